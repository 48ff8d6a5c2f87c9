-- eval_compare_versions: table mi.eval_compare_versions, from models/evaluation/eval_compare_versions.sql, compiled for hive
SELECT
  b.model_name,
  b.cohort,
  b.split,
  b.model_version AS base_version,
  c.model_version AS candidate_version,
  CASE WHEN c.parent_version = b.model_version THEN TRUE ELSE FALSE END AS is_parent,
  b.n_scored AS base_n_scored,
  c.n_scored AS candidate_n_scored,
  coalesce(t.n_paired, CAST(0 AS BIGINT)) AS n_paired,
  b.n_scored - coalesce(t.n_paired, CAST(0 AS BIGINT)) AS n_base_only,
  c.n_scored - coalesce(t.n_paired, CAST(0 AS BIGINT)) AS n_candidate_only,
  t.n_paired_positive, t.n_paired_negative,
  t.base_auc, t.candidate_auc, t.delta_auc, t.delta_auc_se,
  CASE WHEN t.delta_auc_se IS NOT NULL THEN greatest(CAST(-1 AS DOUBLE), t.delta_auc - CAST(1.959963984540054 AS DOUBLE) * t.delta_auc_se) END AS delta_auc_ci_lower,
  CASE WHEN t.delta_auc_se IS NOT NULL THEN least(CAST(1 AS DOUBLE), t.delta_auc + CAST(1.959963984540054 AS DOUBLE) * t.delta_auc_se) END AS delta_auc_ci_upper,
  t.delta_auc_z,
  CASE WHEN t.delta_auc_z IS NOT NULL THEN greatest(CAST(0 AS DOUBLE), least(CAST(1 AS DOUBLE), 1 - 2 * exp(-t.auc_abs_z * t.auc_abs_z / 2) / sqrt(2 * pi()) * (
  power(t.auc_abs_z, 1) / CAST('1.0' AS DOUBLE)
  + power(t.auc_abs_z, 3) / CAST('3.0' AS DOUBLE)
  + power(t.auc_abs_z, 5) / CAST('15.0' AS DOUBLE)
  + power(t.auc_abs_z, 7) / CAST('105.0' AS DOUBLE)
  + power(t.auc_abs_z, 9) / CAST('945.0' AS DOUBLE)
  + power(t.auc_abs_z, 11) / CAST('10395.0' AS DOUBLE)
  + power(t.auc_abs_z, 13) / CAST('135135.0' AS DOUBLE)
  + power(t.auc_abs_z, 15) / CAST('2027025.0' AS DOUBLE)
  + power(t.auc_abs_z, 17) / CAST('34459425.0' AS DOUBLE)
  + power(t.auc_abs_z, 19) / CAST('654729075.0' AS DOUBLE)
  + power(t.auc_abs_z, 21) / CAST('13749310575.0' AS DOUBLE)
  + power(t.auc_abs_z, 23) / CAST('316234143225.0' AS DOUBLE)
  + power(t.auc_abs_z, 25) / CAST('7905853580625.0' AS DOUBLE)
  + power(t.auc_abs_z, 27) / CAST('213458046676875.0' AS DOUBLE)
  + power(t.auc_abs_z, 29) / CAST('6190283353629375.0' AS DOUBLE)
  + power(t.auc_abs_z, 31) / CAST('1.9189878396251062e+17' AS DOUBLE)
  + power(t.auc_abs_z, 33) / CAST('6.33265987076285e+18' AS DOUBLE)
  + power(t.auc_abs_z, 35) / CAST('2.2164309547669976e+20' AS DOUBLE)
  + power(t.auc_abs_z, 37) / CAST('8.200794532637891e+21' AS DOUBLE)
  + power(t.auc_abs_z, 39) / CAST('3.1983098677287775e+23' AS DOUBLE)
  + power(t.auc_abs_z, 41) / CAST('1.3113070457687988e+25' AS DOUBLE)
  + power(t.auc_abs_z, 43) / CAST('5.6386202968058344e+26' AS DOUBLE)
  + power(t.auc_abs_z, 45) / CAST('2.5373791335626256e+28' AS DOUBLE)
  + power(t.auc_abs_z, 47) / CAST('1.192568192774434e+30' AS DOUBLE)
  + power(t.auc_abs_z, 49) / CAST('5.843584144594727e+31' AS DOUBLE)
  + power(t.auc_abs_z, 51) / CAST('2.980227913743311e+33' AS DOUBLE)
  + power(t.auc_abs_z, 53) / CAST('1.5795207942839547e+35' AS DOUBLE)
  + power(t.auc_abs_z, 55) / CAST('8.687364368561751e+36' AS DOUBLE)
  + power(t.auc_abs_z, 57) / CAST('4.951797690080198e+38' AS DOUBLE)
  + power(t.auc_abs_z, 59) / CAST('2.9215606371473166e+40' AS DOUBLE)
  + power(t.auc_abs_z, 61) / CAST('1.782151988659863e+42' AS DOUBLE)
  + power(t.auc_abs_z, 63) / CAST('1.1227557528557138e+44' AS DOUBLE)
  + power(t.auc_abs_z, 65) / CAST('7.29791239356214e+45' AS DOUBLE)
  + power(t.auc_abs_z, 67) / CAST('4.889601303686634e+47' AS DOUBLE)
  + power(t.auc_abs_z, 69) / CAST('3.3738248995437775e+49' AS DOUBLE)
  + power(t.auc_abs_z, 71) / CAST('2.395415678676082e+51' AS DOUBLE)
  + power(t.auc_abs_z, 73) / CAST('1.7486534454335398e+53' AS DOUBLE)
  + power(t.auc_abs_z, 75) / CAST('1.3114900840751548e+55' AS DOUBLE)
  + power(t.auc_abs_z, 77) / CAST('1.0098473647378693e+57' AS DOUBLE)
  + power(t.auc_abs_z, 79) / CAST('7.977794181429167e+58' AS DOUBLE)
  + power(t.auc_abs_z, 81) / CAST('6.462013286957625e+60' AS DOUBLE)
  + power(t.auc_abs_z, 83) / CAST('5.363471028174829e+62' AS DOUBLE)
  + power(t.auc_abs_z, 85) / CAST('4.558950373948605e+64' AS DOUBLE)
  + power(t.auc_abs_z, 87) / CAST('3.9662868253352865e+66' AS DOUBLE)
  + power(t.auc_abs_z, 89) / CAST('3.529995274548405e+68' AS DOUBLE)
  + power(t.auc_abs_z, 91) / CAST('3.212295699839048e+70' AS DOUBLE)
  + power(t.auc_abs_z, 93) / CAST('2.9874350008503146e+72' AS DOUBLE)
  + power(t.auc_abs_z, 95) / CAST('2.838063250807799e+74' AS DOUBLE)
  + power(t.auc_abs_z, 97) / CAST('2.752921353283565e+76' AS DOUBLE)
  + power(t.auc_abs_z, 99) / CAST('2.7253921397507295e+78' AS DOUBLE)
  + power(t.auc_abs_z, 101) / CAST('2.7526460611482366e+80' AS DOUBLE)
  + power(t.auc_abs_z, 103) / CAST('2.8352254429826835e+82' AS DOUBLE)
  + power(t.auc_abs_z, 105) / CAST('2.9769867151318175e+84' AS DOUBLE)
  + power(t.auc_abs_z, 107) / CAST('3.1853757851910447e+86' AS DOUBLE)
  + power(t.auc_abs_z, 109) / CAST('3.472059605858239e+88' AS DOUBLE)
  + power(t.auc_abs_z, 111) / CAST('3.853986162502645e+90' AS DOUBLE)
  + power(t.auc_abs_z, 113) / CAST('4.355004363627989e+92' AS DOUBLE)
  + power(t.auc_abs_z, 115) / CAST('5.0082550181721874e+94' AS DOUBLE)
  + power(t.auc_abs_z, 117) / CAST('5.859658371261459e+96' AS DOUBLE)
  + power(t.auc_abs_z, 119) / CAST('6.972993461801136e+98' AS DOUBLE)
  + power(t.auc_abs_z, 121) / CAST('8.437322088779375e+100' AS DOUBLE)
  + power(t.auc_abs_z, 123) / CAST('1.037790616919863e+103' AS DOUBLE)
  + power(t.auc_abs_z, 125) / CAST('1.2972382711498288e+105' AS DOUBLE)
  + power(t.auc_abs_z, 127) / CAST('1.6474926043602827e+107' AS DOUBLE)
  + power(t.auc_abs_z, 129) / CAST('2.125265459624765e+109' AS DOUBLE)
  + power(t.auc_abs_z, 131) / CAST('2.784097752108442e+111' AS DOUBLE)
  + power(t.auc_abs_z, 133) / CAST('3.7028500103042284e+113' AS DOUBLE)
  + power(t.auc_abs_z, 135) / CAST('4.998847513910708e+115' AS DOUBLE)
  + power(t.auc_abs_z, 137) / CAST('6.84842109405767e+117' AS DOUBLE)
  + power(t.auc_abs_z, 139) / CAST('9.519305320740162e+119' AS DOUBLE)
  + power(t.auc_abs_z, 141) / CAST('1.3422220502243628e+122' AS DOUBLE)
  + power(t.auc_abs_z, 143) / CAST('1.9193775318208388e+124' AS DOUBLE)
  + power(t.auc_abs_z, 145) / CAST('2.783097421140216e+126' AS DOUBLE)
  + power(t.auc_abs_z, 147) / CAST('4.091153209076118e+128' AS DOUBLE)
  + power(t.auc_abs_z, 149) / CAST('6.095818281523415e+130' AS DOUBLE)
  + power(t.auc_abs_z, 151) / CAST('9.204685605100357e+132' AS DOUBLE)
  + power(t.auc_abs_z, 153) / CAST('1.4083168975803547e+135' AS DOUBLE)
  + power(t.auc_abs_z, 155) / CAST('2.1828911912495497e+137' AS DOUBLE)
  + power(t.auc_abs_z, 157) / CAST('3.4271391702617933e+139' AS DOUBLE)
  + power(t.auc_abs_z, 159) / CAST('5.4491512807162513e+141' AS DOUBLE)
  + power(t.auc_abs_z, 161) / CAST('8.773133561953165e+143' AS DOUBLE)
  + power(t.auc_abs_z, 163) / CAST('1.430020770598366e+146' AS DOUBLE)
  + power(t.auc_abs_z, 165) / CAST('2.359534271487304e+148' AS DOUBLE)
  + power(t.auc_abs_z, 167) / CAST('3.940422233383798e+150' AS DOUBLE)
  + power(t.auc_abs_z, 169) / CAST('6.659313574418618e+152' AS DOUBLE)
  + power(t.auc_abs_z, 171) / CAST('1.1387426212255838e+155' AS DOUBLE)
  + power(t.auc_abs_z, 173) / CAST('1.97002473472026e+157' AS DOUBLE)
  + power(t.auc_abs_z, 175) / CAST('3.447543285760455e+159' AS DOUBLE)
  + power(t.auc_abs_z, 177) / CAST('6.102151615796005e+161' AS DOUBLE)
  + power(t.auc_abs_z, 179) / CAST('1.0922851392274848e+164' AS DOUBLE)
  + power(t.auc_abs_z, 181) / CAST('1.9770361020017475e+166' AS DOUBLE)
  + power(t.auc_abs_z, 183) / CAST('3.617976066663198e+168' AS DOUBLE)
  + power(t.auc_abs_z, 185) / CAST('6.693255723326916e+170' AS DOUBLE)
  + power(t.auc_abs_z, 187) / CAST('1.2516388202621332e+173' AS DOUBLE)
  + power(t.auc_abs_z, 189) / CAST('2.3655973702954318e+175' AS DOUBLE)
  + power(t.auc_abs_z, 191) / CAST('4.518290977264275e+177' AS DOUBLE)
  + power(t.auc_abs_z, 193) / CAST('8.72030158612005e+179' AS DOUBLE)
  + power(t.auc_abs_z, 195) / CAST('1.7004588092934096e+182' AS DOUBLE)
  + power(t.auc_abs_z, 197) / CAST('3.349903854308017e+184' AS DOUBLE)
  + power(t.auc_abs_z, 199) / CAST('6.666308670072954e+186' AS DOUBLE)))) END AS delong_p,
  t.base_sensitivity, t.candidate_sensitivity, t.candidate_sensitivity - t.base_sensitivity AS delta_sensitivity,
  t.sensitivity_base_only_correct, t.sensitivity_candidate_only_correct, t.sensitivity_mcnemar_chi2,
  CASE WHEN t.sensitivity_mcnemar_chi2 IS NOT NULL THEN greatest(CAST(0 AS DOUBLE), least(CAST(1 AS DOUBLE), 1 - 2 * exp(-t.sens_abs_z * t.sens_abs_z / 2) / sqrt(2 * pi()) * (
  power(t.sens_abs_z, 1) / CAST('1.0' AS DOUBLE)
  + power(t.sens_abs_z, 3) / CAST('3.0' AS DOUBLE)
  + power(t.sens_abs_z, 5) / CAST('15.0' AS DOUBLE)
  + power(t.sens_abs_z, 7) / CAST('105.0' AS DOUBLE)
  + power(t.sens_abs_z, 9) / CAST('945.0' AS DOUBLE)
  + power(t.sens_abs_z, 11) / CAST('10395.0' AS DOUBLE)
  + power(t.sens_abs_z, 13) / CAST('135135.0' AS DOUBLE)
  + power(t.sens_abs_z, 15) / CAST('2027025.0' AS DOUBLE)
  + power(t.sens_abs_z, 17) / CAST('34459425.0' AS DOUBLE)
  + power(t.sens_abs_z, 19) / CAST('654729075.0' AS DOUBLE)
  + power(t.sens_abs_z, 21) / CAST('13749310575.0' AS DOUBLE)
  + power(t.sens_abs_z, 23) / CAST('316234143225.0' AS DOUBLE)
  + power(t.sens_abs_z, 25) / CAST('7905853580625.0' AS DOUBLE)
  + power(t.sens_abs_z, 27) / CAST('213458046676875.0' AS DOUBLE)
  + power(t.sens_abs_z, 29) / CAST('6190283353629375.0' AS DOUBLE)
  + power(t.sens_abs_z, 31) / CAST('1.9189878396251062e+17' AS DOUBLE)
  + power(t.sens_abs_z, 33) / CAST('6.33265987076285e+18' AS DOUBLE)
  + power(t.sens_abs_z, 35) / CAST('2.2164309547669976e+20' AS DOUBLE)
  + power(t.sens_abs_z, 37) / CAST('8.200794532637891e+21' AS DOUBLE)
  + power(t.sens_abs_z, 39) / CAST('3.1983098677287775e+23' AS DOUBLE)
  + power(t.sens_abs_z, 41) / CAST('1.3113070457687988e+25' AS DOUBLE)
  + power(t.sens_abs_z, 43) / CAST('5.6386202968058344e+26' AS DOUBLE)
  + power(t.sens_abs_z, 45) / CAST('2.5373791335626256e+28' AS DOUBLE)
  + power(t.sens_abs_z, 47) / CAST('1.192568192774434e+30' AS DOUBLE)
  + power(t.sens_abs_z, 49) / CAST('5.843584144594727e+31' AS DOUBLE)
  + power(t.sens_abs_z, 51) / CAST('2.980227913743311e+33' AS DOUBLE)
  + power(t.sens_abs_z, 53) / CAST('1.5795207942839547e+35' AS DOUBLE)
  + power(t.sens_abs_z, 55) / CAST('8.687364368561751e+36' AS DOUBLE)
  + power(t.sens_abs_z, 57) / CAST('4.951797690080198e+38' AS DOUBLE)
  + power(t.sens_abs_z, 59) / CAST('2.9215606371473166e+40' AS DOUBLE)
  + power(t.sens_abs_z, 61) / CAST('1.782151988659863e+42' AS DOUBLE)
  + power(t.sens_abs_z, 63) / CAST('1.1227557528557138e+44' AS DOUBLE)
  + power(t.sens_abs_z, 65) / CAST('7.29791239356214e+45' AS DOUBLE)
  + power(t.sens_abs_z, 67) / CAST('4.889601303686634e+47' AS DOUBLE)
  + power(t.sens_abs_z, 69) / CAST('3.3738248995437775e+49' AS DOUBLE)
  + power(t.sens_abs_z, 71) / CAST('2.395415678676082e+51' AS DOUBLE)
  + power(t.sens_abs_z, 73) / CAST('1.7486534454335398e+53' AS DOUBLE)
  + power(t.sens_abs_z, 75) / CAST('1.3114900840751548e+55' AS DOUBLE)
  + power(t.sens_abs_z, 77) / CAST('1.0098473647378693e+57' AS DOUBLE)
  + power(t.sens_abs_z, 79) / CAST('7.977794181429167e+58' AS DOUBLE)
  + power(t.sens_abs_z, 81) / CAST('6.462013286957625e+60' AS DOUBLE)
  + power(t.sens_abs_z, 83) / CAST('5.363471028174829e+62' AS DOUBLE)
  + power(t.sens_abs_z, 85) / CAST('4.558950373948605e+64' AS DOUBLE)
  + power(t.sens_abs_z, 87) / CAST('3.9662868253352865e+66' AS DOUBLE)
  + power(t.sens_abs_z, 89) / CAST('3.529995274548405e+68' AS DOUBLE)
  + power(t.sens_abs_z, 91) / CAST('3.212295699839048e+70' AS DOUBLE)
  + power(t.sens_abs_z, 93) / CAST('2.9874350008503146e+72' AS DOUBLE)
  + power(t.sens_abs_z, 95) / CAST('2.838063250807799e+74' AS DOUBLE)
  + power(t.sens_abs_z, 97) / CAST('2.752921353283565e+76' AS DOUBLE)
  + power(t.sens_abs_z, 99) / CAST('2.7253921397507295e+78' AS DOUBLE)
  + power(t.sens_abs_z, 101) / CAST('2.7526460611482366e+80' AS DOUBLE)
  + power(t.sens_abs_z, 103) / CAST('2.8352254429826835e+82' AS DOUBLE)
  + power(t.sens_abs_z, 105) / CAST('2.9769867151318175e+84' AS DOUBLE)
  + power(t.sens_abs_z, 107) / CAST('3.1853757851910447e+86' AS DOUBLE)
  + power(t.sens_abs_z, 109) / CAST('3.472059605858239e+88' AS DOUBLE)
  + power(t.sens_abs_z, 111) / CAST('3.853986162502645e+90' AS DOUBLE)
  + power(t.sens_abs_z, 113) / CAST('4.355004363627989e+92' AS DOUBLE)
  + power(t.sens_abs_z, 115) / CAST('5.0082550181721874e+94' AS DOUBLE)
  + power(t.sens_abs_z, 117) / CAST('5.859658371261459e+96' AS DOUBLE)
  + power(t.sens_abs_z, 119) / CAST('6.972993461801136e+98' AS DOUBLE)
  + power(t.sens_abs_z, 121) / CAST('8.437322088779375e+100' AS DOUBLE)
  + power(t.sens_abs_z, 123) / CAST('1.037790616919863e+103' AS DOUBLE)
  + power(t.sens_abs_z, 125) / CAST('1.2972382711498288e+105' AS DOUBLE)
  + power(t.sens_abs_z, 127) / CAST('1.6474926043602827e+107' AS DOUBLE)
  + power(t.sens_abs_z, 129) / CAST('2.125265459624765e+109' AS DOUBLE)
  + power(t.sens_abs_z, 131) / CAST('2.784097752108442e+111' AS DOUBLE)
  + power(t.sens_abs_z, 133) / CAST('3.7028500103042284e+113' AS DOUBLE)
  + power(t.sens_abs_z, 135) / CAST('4.998847513910708e+115' AS DOUBLE)
  + power(t.sens_abs_z, 137) / CAST('6.84842109405767e+117' AS DOUBLE)
  + power(t.sens_abs_z, 139) / CAST('9.519305320740162e+119' AS DOUBLE)
  + power(t.sens_abs_z, 141) / CAST('1.3422220502243628e+122' AS DOUBLE)
  + power(t.sens_abs_z, 143) / CAST('1.9193775318208388e+124' AS DOUBLE)
  + power(t.sens_abs_z, 145) / CAST('2.783097421140216e+126' AS DOUBLE)
  + power(t.sens_abs_z, 147) / CAST('4.091153209076118e+128' AS DOUBLE)
  + power(t.sens_abs_z, 149) / CAST('6.095818281523415e+130' AS DOUBLE)
  + power(t.sens_abs_z, 151) / CAST('9.204685605100357e+132' AS DOUBLE)
  + power(t.sens_abs_z, 153) / CAST('1.4083168975803547e+135' AS DOUBLE)
  + power(t.sens_abs_z, 155) / CAST('2.1828911912495497e+137' AS DOUBLE)
  + power(t.sens_abs_z, 157) / CAST('3.4271391702617933e+139' AS DOUBLE)
  + power(t.sens_abs_z, 159) / CAST('5.4491512807162513e+141' AS DOUBLE)
  + power(t.sens_abs_z, 161) / CAST('8.773133561953165e+143' AS DOUBLE)
  + power(t.sens_abs_z, 163) / CAST('1.430020770598366e+146' AS DOUBLE)
  + power(t.sens_abs_z, 165) / CAST('2.359534271487304e+148' AS DOUBLE)
  + power(t.sens_abs_z, 167) / CAST('3.940422233383798e+150' AS DOUBLE)
  + power(t.sens_abs_z, 169) / CAST('6.659313574418618e+152' AS DOUBLE)
  + power(t.sens_abs_z, 171) / CAST('1.1387426212255838e+155' AS DOUBLE)
  + power(t.sens_abs_z, 173) / CAST('1.97002473472026e+157' AS DOUBLE)
  + power(t.sens_abs_z, 175) / CAST('3.447543285760455e+159' AS DOUBLE)
  + power(t.sens_abs_z, 177) / CAST('6.102151615796005e+161' AS DOUBLE)
  + power(t.sens_abs_z, 179) / CAST('1.0922851392274848e+164' AS DOUBLE)
  + power(t.sens_abs_z, 181) / CAST('1.9770361020017475e+166' AS DOUBLE)
  + power(t.sens_abs_z, 183) / CAST('3.617976066663198e+168' AS DOUBLE)
  + power(t.sens_abs_z, 185) / CAST('6.693255723326916e+170' AS DOUBLE)
  + power(t.sens_abs_z, 187) / CAST('1.2516388202621332e+173' AS DOUBLE)
  + power(t.sens_abs_z, 189) / CAST('2.3655973702954318e+175' AS DOUBLE)
  + power(t.sens_abs_z, 191) / CAST('4.518290977264275e+177' AS DOUBLE)
  + power(t.sens_abs_z, 193) / CAST('8.72030158612005e+179' AS DOUBLE)
  + power(t.sens_abs_z, 195) / CAST('1.7004588092934096e+182' AS DOUBLE)
  + power(t.sens_abs_z, 197) / CAST('3.349903854308017e+184' AS DOUBLE)
  + power(t.sens_abs_z, 199) / CAST('6.666308670072954e+186' AS DOUBLE)))) END AS sensitivity_mcnemar_p,
  t.base_specificity, t.candidate_specificity, t.candidate_specificity - t.base_specificity AS delta_specificity,
  t.specificity_base_only_correct, t.specificity_candidate_only_correct, t.specificity_mcnemar_chi2,
  CASE WHEN t.specificity_mcnemar_chi2 IS NOT NULL THEN greatest(CAST(0 AS DOUBLE), least(CAST(1 AS DOUBLE), 1 - 2 * exp(-t.spec_abs_z * t.spec_abs_z / 2) / sqrt(2 * pi()) * (
  power(t.spec_abs_z, 1) / CAST('1.0' AS DOUBLE)
  + power(t.spec_abs_z, 3) / CAST('3.0' AS DOUBLE)
  + power(t.spec_abs_z, 5) / CAST('15.0' AS DOUBLE)
  + power(t.spec_abs_z, 7) / CAST('105.0' AS DOUBLE)
  + power(t.spec_abs_z, 9) / CAST('945.0' AS DOUBLE)
  + power(t.spec_abs_z, 11) / CAST('10395.0' AS DOUBLE)
  + power(t.spec_abs_z, 13) / CAST('135135.0' AS DOUBLE)
  + power(t.spec_abs_z, 15) / CAST('2027025.0' AS DOUBLE)
  + power(t.spec_abs_z, 17) / CAST('34459425.0' AS DOUBLE)
  + power(t.spec_abs_z, 19) / CAST('654729075.0' AS DOUBLE)
  + power(t.spec_abs_z, 21) / CAST('13749310575.0' AS DOUBLE)
  + power(t.spec_abs_z, 23) / CAST('316234143225.0' AS DOUBLE)
  + power(t.spec_abs_z, 25) / CAST('7905853580625.0' AS DOUBLE)
  + power(t.spec_abs_z, 27) / CAST('213458046676875.0' AS DOUBLE)
  + power(t.spec_abs_z, 29) / CAST('6190283353629375.0' AS DOUBLE)
  + power(t.spec_abs_z, 31) / CAST('1.9189878396251062e+17' AS DOUBLE)
  + power(t.spec_abs_z, 33) / CAST('6.33265987076285e+18' AS DOUBLE)
  + power(t.spec_abs_z, 35) / CAST('2.2164309547669976e+20' AS DOUBLE)
  + power(t.spec_abs_z, 37) / CAST('8.200794532637891e+21' AS DOUBLE)
  + power(t.spec_abs_z, 39) / CAST('3.1983098677287775e+23' AS DOUBLE)
  + power(t.spec_abs_z, 41) / CAST('1.3113070457687988e+25' AS DOUBLE)
  + power(t.spec_abs_z, 43) / CAST('5.6386202968058344e+26' AS DOUBLE)
  + power(t.spec_abs_z, 45) / CAST('2.5373791335626256e+28' AS DOUBLE)
  + power(t.spec_abs_z, 47) / CAST('1.192568192774434e+30' AS DOUBLE)
  + power(t.spec_abs_z, 49) / CAST('5.843584144594727e+31' AS DOUBLE)
  + power(t.spec_abs_z, 51) / CAST('2.980227913743311e+33' AS DOUBLE)
  + power(t.spec_abs_z, 53) / CAST('1.5795207942839547e+35' AS DOUBLE)
  + power(t.spec_abs_z, 55) / CAST('8.687364368561751e+36' AS DOUBLE)
  + power(t.spec_abs_z, 57) / CAST('4.951797690080198e+38' AS DOUBLE)
  + power(t.spec_abs_z, 59) / CAST('2.9215606371473166e+40' AS DOUBLE)
  + power(t.spec_abs_z, 61) / CAST('1.782151988659863e+42' AS DOUBLE)
  + power(t.spec_abs_z, 63) / CAST('1.1227557528557138e+44' AS DOUBLE)
  + power(t.spec_abs_z, 65) / CAST('7.29791239356214e+45' AS DOUBLE)
  + power(t.spec_abs_z, 67) / CAST('4.889601303686634e+47' AS DOUBLE)
  + power(t.spec_abs_z, 69) / CAST('3.3738248995437775e+49' AS DOUBLE)
  + power(t.spec_abs_z, 71) / CAST('2.395415678676082e+51' AS DOUBLE)
  + power(t.spec_abs_z, 73) / CAST('1.7486534454335398e+53' AS DOUBLE)
  + power(t.spec_abs_z, 75) / CAST('1.3114900840751548e+55' AS DOUBLE)
  + power(t.spec_abs_z, 77) / CAST('1.0098473647378693e+57' AS DOUBLE)
  + power(t.spec_abs_z, 79) / CAST('7.977794181429167e+58' AS DOUBLE)
  + power(t.spec_abs_z, 81) / CAST('6.462013286957625e+60' AS DOUBLE)
  + power(t.spec_abs_z, 83) / CAST('5.363471028174829e+62' AS DOUBLE)
  + power(t.spec_abs_z, 85) / CAST('4.558950373948605e+64' AS DOUBLE)
  + power(t.spec_abs_z, 87) / CAST('3.9662868253352865e+66' AS DOUBLE)
  + power(t.spec_abs_z, 89) / CAST('3.529995274548405e+68' AS DOUBLE)
  + power(t.spec_abs_z, 91) / CAST('3.212295699839048e+70' AS DOUBLE)
  + power(t.spec_abs_z, 93) / CAST('2.9874350008503146e+72' AS DOUBLE)
  + power(t.spec_abs_z, 95) / CAST('2.838063250807799e+74' AS DOUBLE)
  + power(t.spec_abs_z, 97) / CAST('2.752921353283565e+76' AS DOUBLE)
  + power(t.spec_abs_z, 99) / CAST('2.7253921397507295e+78' AS DOUBLE)
  + power(t.spec_abs_z, 101) / CAST('2.7526460611482366e+80' AS DOUBLE)
  + power(t.spec_abs_z, 103) / CAST('2.8352254429826835e+82' AS DOUBLE)
  + power(t.spec_abs_z, 105) / CAST('2.9769867151318175e+84' AS DOUBLE)
  + power(t.spec_abs_z, 107) / CAST('3.1853757851910447e+86' AS DOUBLE)
  + power(t.spec_abs_z, 109) / CAST('3.472059605858239e+88' AS DOUBLE)
  + power(t.spec_abs_z, 111) / CAST('3.853986162502645e+90' AS DOUBLE)
  + power(t.spec_abs_z, 113) / CAST('4.355004363627989e+92' AS DOUBLE)
  + power(t.spec_abs_z, 115) / CAST('5.0082550181721874e+94' AS DOUBLE)
  + power(t.spec_abs_z, 117) / CAST('5.859658371261459e+96' AS DOUBLE)
  + power(t.spec_abs_z, 119) / CAST('6.972993461801136e+98' AS DOUBLE)
  + power(t.spec_abs_z, 121) / CAST('8.437322088779375e+100' AS DOUBLE)
  + power(t.spec_abs_z, 123) / CAST('1.037790616919863e+103' AS DOUBLE)
  + power(t.spec_abs_z, 125) / CAST('1.2972382711498288e+105' AS DOUBLE)
  + power(t.spec_abs_z, 127) / CAST('1.6474926043602827e+107' AS DOUBLE)
  + power(t.spec_abs_z, 129) / CAST('2.125265459624765e+109' AS DOUBLE)
  + power(t.spec_abs_z, 131) / CAST('2.784097752108442e+111' AS DOUBLE)
  + power(t.spec_abs_z, 133) / CAST('3.7028500103042284e+113' AS DOUBLE)
  + power(t.spec_abs_z, 135) / CAST('4.998847513910708e+115' AS DOUBLE)
  + power(t.spec_abs_z, 137) / CAST('6.84842109405767e+117' AS DOUBLE)
  + power(t.spec_abs_z, 139) / CAST('9.519305320740162e+119' AS DOUBLE)
  + power(t.spec_abs_z, 141) / CAST('1.3422220502243628e+122' AS DOUBLE)
  + power(t.spec_abs_z, 143) / CAST('1.9193775318208388e+124' AS DOUBLE)
  + power(t.spec_abs_z, 145) / CAST('2.783097421140216e+126' AS DOUBLE)
  + power(t.spec_abs_z, 147) / CAST('4.091153209076118e+128' AS DOUBLE)
  + power(t.spec_abs_z, 149) / CAST('6.095818281523415e+130' AS DOUBLE)
  + power(t.spec_abs_z, 151) / CAST('9.204685605100357e+132' AS DOUBLE)
  + power(t.spec_abs_z, 153) / CAST('1.4083168975803547e+135' AS DOUBLE)
  + power(t.spec_abs_z, 155) / CAST('2.1828911912495497e+137' AS DOUBLE)
  + power(t.spec_abs_z, 157) / CAST('3.4271391702617933e+139' AS DOUBLE)
  + power(t.spec_abs_z, 159) / CAST('5.4491512807162513e+141' AS DOUBLE)
  + power(t.spec_abs_z, 161) / CAST('8.773133561953165e+143' AS DOUBLE)
  + power(t.spec_abs_z, 163) / CAST('1.430020770598366e+146' AS DOUBLE)
  + power(t.spec_abs_z, 165) / CAST('2.359534271487304e+148' AS DOUBLE)
  + power(t.spec_abs_z, 167) / CAST('3.940422233383798e+150' AS DOUBLE)
  + power(t.spec_abs_z, 169) / CAST('6.659313574418618e+152' AS DOUBLE)
  + power(t.spec_abs_z, 171) / CAST('1.1387426212255838e+155' AS DOUBLE)
  + power(t.spec_abs_z, 173) / CAST('1.97002473472026e+157' AS DOUBLE)
  + power(t.spec_abs_z, 175) / CAST('3.447543285760455e+159' AS DOUBLE)
  + power(t.spec_abs_z, 177) / CAST('6.102151615796005e+161' AS DOUBLE)
  + power(t.spec_abs_z, 179) / CAST('1.0922851392274848e+164' AS DOUBLE)
  + power(t.spec_abs_z, 181) / CAST('1.9770361020017475e+166' AS DOUBLE)
  + power(t.spec_abs_z, 183) / CAST('3.617976066663198e+168' AS DOUBLE)
  + power(t.spec_abs_z, 185) / CAST('6.693255723326916e+170' AS DOUBLE)
  + power(t.spec_abs_z, 187) / CAST('1.2516388202621332e+173' AS DOUBLE)
  + power(t.spec_abs_z, 189) / CAST('2.3655973702954318e+175' AS DOUBLE)
  + power(t.spec_abs_z, 191) / CAST('4.518290977264275e+177' AS DOUBLE)
  + power(t.spec_abs_z, 193) / CAST('8.72030158612005e+179' AS DOUBLE)
  + power(t.spec_abs_z, 195) / CAST('1.7004588092934096e+182' AS DOUBLE)
  + power(t.spec_abs_z, 197) / CAST('3.349903854308017e+184' AS DOUBLE)
  + power(t.spec_abs_z, 199) / CAST('6.666308670072954e+186' AS DOUBLE)))) END AS specificity_mcnemar_p,
  t.delta_brier
FROM (
  SELECT e.model_name, e.model_version, e.cohort, e.split, e.n_scored, v.version_order, v.parent_version
  FROM `mi`.`eval_metrics` e
  JOIN (
    SELECT model_name, model_version, parent_version,
           row_number() OVER (PARTITION BY model_name
                              ORDER BY CASE WHEN registered_at IS NULL THEN 1 ELSE 0 END, registered_at,
                                       model_version) AS version_order
    FROM (
      SELECT k.model_name, k.model_version, max(r.registered_at) AS registered_at,
             max(r.parent_version) AS parent_version
      FROM (SELECT DISTINCT model_name, model_version FROM `mi`.`eval_metrics`) k
      LEFT JOIN `mi`.`model_versions` r ON r.name = k.model_name AND r.version = k.model_version
      GROUP BY k.model_name, k.model_version
    ) rv
  ) v ON v.model_name = e.model_name AND v.model_version = e.model_version
) b
JOIN (
  SELECT e.model_name, e.model_version, e.cohort, e.split, e.n_scored, v.version_order, v.parent_version
  FROM `mi`.`eval_metrics` e
  JOIN (
    SELECT model_name, model_version, parent_version,
           row_number() OVER (PARTITION BY model_name
                              ORDER BY CASE WHEN registered_at IS NULL THEN 1 ELSE 0 END, registered_at,
                                       model_version) AS version_order
    FROM (
      SELECT k.model_name, k.model_version, max(r.registered_at) AS registered_at,
             max(r.parent_version) AS parent_version
      FROM (SELECT DISTINCT model_name, model_version FROM `mi`.`eval_metrics`) k
      LEFT JOIN `mi`.`model_versions` r ON r.name = k.model_name AND r.version = k.model_version
      GROUP BY k.model_name, k.model_version
    ) rv
  ) v ON v.model_name = e.model_name AND v.model_version = e.model_version
) c ON c.model_name = b.model_name AND c.cohort = b.cohort AND c.split = b.split
   AND c.version_order > b.version_order
LEFT JOIN (
  SELECT
    s.*,
    least(abs(delta_auc_z), CAST(8 AS DOUBLE)) AS auc_abs_z,
    least(sqrt(sensitivity_mcnemar_chi2), CAST(8 AS DOUBLE)) AS sens_abs_z,
    least(sqrt(specificity_mcnemar_chi2), CAST(8 AS DOUBLE)) AS spec_abs_z
  FROM (
    SELECT
      a.*,
      (CAST(delta_auc AS DOUBLE) / NULLIF(CAST(delta_auc_se AS DOUBLE), CAST(0 AS DOUBLE))) AS delta_auc_z,
      (CAST(greatest(abs((sensitivity_base_only_correct) - (sensitivity_candidate_only_correct)) - 1, 0) * greatest(abs((sensitivity_base_only_correct) - (sensitivity_candidate_only_correct)) - 1, 0) AS DOUBLE) / NULLIF(CAST((sensitivity_base_only_correct) + (sensitivity_candidate_only_correct) AS DOUBLE), CAST(0 AS DOUBLE))) AS sensitivity_mcnemar_chi2,
      (CAST(greatest(abs((specificity_base_only_correct) - (specificity_candidate_only_correct)) - 1, 0) * greatest(abs((specificity_base_only_correct) - (specificity_candidate_only_correct)) - 1, 0) AS DOUBLE) / NULLIF(CAST((specificity_base_only_correct) + (specificity_candidate_only_correct) AS DOUBLE), CAST(0 AS DOUBLE))) AS specificity_mcnemar_chi2
    FROM (
      SELECT
        `model_name`, `cohort`, `split`, `base_version`, `candidate_version`,
        count(*) AS n_paired,
        sum(y) AS n_paired_positive,
        sum(1 - y) AS n_paired_negative,
        avg(CASE WHEN y = 1 THEN comp_b END) AS base_auc,
        avg(CASE WHEN y = 1 THEN comp_c END) AS candidate_auc,
        avg(CASE WHEN y = 1 THEN comp_c - comp_b END) AS delta_auc,
        CASE WHEN sum(y) > 1 AND sum(1 - y) > 1
             THEN sqrt((CAST(var_samp(CASE WHEN y = 1 THEN comp_c - comp_b END) AS DOUBLE) / NULLIF(CAST(sum(y) AS DOUBLE), CAST(0 AS DOUBLE)))
                       + (CAST(var_samp(CASE WHEN y = 0 THEN comp_c - comp_b END) AS DOUBLE) / NULLIF(CAST(sum(1 - y) AS DOUBLE), CAST(0 AS DOUBLE)))) END AS delta_auc_se,
        (CAST(sum(y * yhat_b) AS DOUBLE) / NULLIF(CAST(sum(y) AS DOUBLE), CAST(0 AS DOUBLE))) AS base_sensitivity,
        (CAST(sum(y * yhat_c) AS DOUBLE) / NULLIF(CAST(sum(y) AS DOUBLE), CAST(0 AS DOUBLE))) AS candidate_sensitivity,
        sum(y * yhat_b * (1 - yhat_c)) AS sensitivity_base_only_correct,
        sum(y * (1 - yhat_b) * yhat_c) AS sensitivity_candidate_only_correct,
        (CAST(sum((1 - y) * (1 - yhat_b)) AS DOUBLE) / NULLIF(CAST(sum(1 - y) AS DOUBLE), CAST(0 AS DOUBLE))) AS base_specificity,
        (CAST(sum((1 - y) * (1 - yhat_c)) AS DOUBLE) / NULLIF(CAST(sum(1 - y) AS DOUBLE), CAST(0 AS DOUBLE))) AS candidate_specificity,
        sum((1 - y) * (1 - yhat_b) * yhat_c) AS specificity_base_only_correct,
        sum((1 - y) * yhat_b * (1 - yhat_c)) AS specificity_candidate_only_correct,
        avg((pc - y) * (pc - y)) - avg((pb - y) * (pb - y)) AS delta_brier
      FROM (
        SELECT
          x.*,
          CASE WHEN y = 1
     THEN (sum(1 - y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version` ORDER BY pb RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           - sum(1 - y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`, pb) / 2)
          / NULLIF(CAST(sum(1 - y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`) AS DOUBLE), CAST(0 AS DOUBLE))
     ELSE (sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`)
           - sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version` ORDER BY pb RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           + sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`, pb) / 2)
          / NULLIF(CAST(sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`) AS DOUBLE), CAST(0 AS DOUBLE)) END AS comp_b,
          CASE WHEN y = 1
     THEN (sum(1 - y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version` ORDER BY pc RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           - sum(1 - y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`, pc) / 2)
          / NULLIF(CAST(sum(1 - y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`) AS DOUBLE), CAST(0 AS DOUBLE))
     ELSE (sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`)
           - sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version` ORDER BY pc RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           + sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`, pc) / 2)
          / NULLIF(CAST(sum(y) OVER (PARTITION BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`) AS DOUBLE), CAST(0 AS DOUBLE)) END AS comp_c
        FROM (
          SELECT
            bs.model_name, bs.cohort, bs.split,
            bs.model_version AS base_version, cs.model_version AS candidate_version,
            bs.label_value AS y, bs.probability AS pb, cs.probability AS pc,
            CASE WHEN bs.probability >= bs.decision_threshold THEN 1 ELSE 0 END AS yhat_b,
            CASE WHEN cs.probability >= cs.decision_threshold THEN 1 ELSE 0 END AS yhat_c
          FROM (
SELECT model_name, model_version, cohort, sop_instance_uid, label_value, probability, decision_threshold, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, sop_instance_uid, label_value, probability, decision_threshold, 'all' AS split FROM `mi`.`eval_predictions`
          ) bs
          JOIN (
SELECT model_name, model_version, cohort, sop_instance_uid, label_value, probability, decision_threshold, split FROM `mi`.`eval_predictions`
UNION ALL
SELECT model_name, model_version, cohort, sop_instance_uid, label_value, probability, decision_threshold, 'all' AS split FROM `mi`.`eval_predictions`
          ) cs ON cs.model_name = bs.model_name AND cs.cohort = bs.cohort AND cs.split = bs.split
              AND cs.sop_instance_uid = bs.sop_instance_uid AND cs.model_version <> bs.model_version
        ) x
      ) d
      GROUP BY `model_name`, `cohort`, `split`, `base_version`, `candidate_version`
    ) a
  ) s
) t ON t.model_name = b.model_name AND t.cohort = b.cohort AND t.split = b.split
   AND t.base_version = b.model_version AND t.candidate_version = c.model_version;
