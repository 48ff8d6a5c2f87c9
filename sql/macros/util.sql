{#- Small helpers shared by the shipped models. Each renders portable HiveQL (Hive 3/4, Spark SQL). -#}

{#- Stop compiling with `message` in the error (Jinja has no raise; a missing key of an empty
    mapping fails under StrictUndefined and names the key). -#}
{% macro fail(message) -%}
{{ {}['model error: ' ~ message] }}
{%- endmacro %}

{#- a / b as DOUBLE, NULL when b is 0 or NULL (Spark 4 runs with ANSI mode: x / 0 is an error). -#}
{% macro safe_div(a, b) -%}
(CAST({{ a }} AS DOUBLE) / NULLIF(CAST({{ b }} AS DOUBLE), CAST(0 AS DOUBLE)))
{%- endmacro %}

{#- The 97.5% normal quantile (scipy.stats.norm.ppf(0.975)), as a DOUBLE on both engines: Spark
    reads an unadorned 1.96 as DECIMAL. -#}
{% macro z95() -%}
CAST(1.959963984540054 AS DOUBLE)
{%- endmacro %}

{#- Wilson score interval for k successes in n trials:
      (k + z²/2) / (n + z²)  ±  z / (n + z²) · sqrt(k (n − k) / n + z²/4)
    NULL when n is 0 or NULL. -#}
{% macro wilson_center(k, n, z=None) -%}
{%- set z = z or z95() -%}
{{ safe_div('(' ~ k ~ ') + ' ~ z ~ ' * ' ~ z ~ ' / 2', '(' ~ n ~ ') + ' ~ z ~ ' * ' ~ z) }}
{%- endmacro %}

{% macro wilson_half(k, n, z=None) -%}
{%- set z = z or z95() -%}
({{ z }} * sqrt(greatest(CAST(0 AS DOUBLE), {{ safe_div('(' ~ k ~ ') * ((' ~ n ~ ') - (' ~ k ~ '))', n) }} + {{ z }} * {{ z }} / 4))
  / NULLIF(CAST({{ n }} AS DOUBLE) + {{ z }} * {{ z }}, CAST(0 AS DOUBLE)))
{%- endmacro %}

{% macro wilson_lower(k, n, z=None) -%}
CASE WHEN ({{ n }}) > 0 THEN greatest(CAST(0 AS DOUBLE), {{ wilson_center(k, n, z) }} - {{ wilson_half(k, n, z) }}) END
{%- endmacro %}

{% macro wilson_upper(k, n, z=None) -%}
CASE WHEN ({{ n }}) > 0 THEN least(CAST(1 AS DOUBLE), {{ wilson_center(k, n, z) }} + {{ wilson_half(k, n, z) }}) END
{%- endmacro %}

{#- A number in [0, 1) from the first 32 bits of md5(salt || ':' || key): the same on Hive, Spark
    and in Python (int(hashlib.md5(...).hexdigest()[:8], 16) / 2**32). Not hash(): Hive's is Java's
    String.hashCode, Spark's is Murmur3 with seed 42, so a hash()-based split would move patients
    between splits when the engine changes. -#}
{% macro stable_fraction(key_sql, salt) -%}
(CAST(conv(substr(md5(concat({{ salt | sqlstring }}, ':', {{ key_sql }})), 1, 8), 16, 10) AS DOUBLE) / CAST(4294967296 AS DOUBLE))
{%- endmacro %}

{#- A DICOM attribute's first value from the header_json column (DICOM JSON model, PS3.18 F.2),
    by keyword: dicom_tag('SliceThickness') ->
    get_json_object(`header_json`, '$.00180050.Value[0]'). The keyword -> tag mapping is pydicom's
    data dictionary, through the template global dicom_tag_hex(keyword). -#}
{% macro dicom_tag(keyword, column='header_json') -%}
{%- if dicom_tag_hex is not defined -%}
{{ fail("dicom_tag() needs the template global dicom_tag_hex (pydicom's dictionary) in dbt_like/context.py") }}
{%- endif -%}
get_json_object({{ column | ident }}, '$.{{ dicom_tag_hex(keyword) }}.Value[0]')
{%- endmacro %}
