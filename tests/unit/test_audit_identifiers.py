"""What the PHI audit looks for, read from the original headers of the hostile corpus
(mi_warehouse.audit.identifiers.from_sources); dates in every spelling (audit.dates)."""

from __future__ import annotations

import datetime as dt

import pytest

from mi_warehouse.audit.dates import dates_in, parse_date
from mi_warehouse.audit.errors import AuditSourceMissing
from mi_warehouse.audit.identifiers import Identifiers, from_sources, path_components
from mi_warehouse.loaders.deid import Keys
from mi_warehouse.synth.hostile import generate_hostile

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    corpus = generate_hostile(tmp_path_factory.mktemp("hostile") / "src", patients=4, seed=9)
    return corpus, from_sources(Identifiers(), corpus.out_dir, Keys(KEY))


def test_identifiers_of_the_original_headers(planted):
    corpus, ids = planted
    for p in corpus.patients:
        assert ids.words.get(p.accession.lower()) == "AccessionNumber"
        assert ids.words.get(p.family.lower()) == "PatientName"
        kinds = {k for v, k in ids.phrases.get(p.patient_id.lower().split("-")[0], [])}
        assert ids.words.get(p.patient_id.lower()) == "PatientID" or "PatientID" in kinds
        assert any(v == p.old_id.lower() for v, _ in ids.phrases.get("old", []))  # Original Attributes
        assert any(v == p.other_id.lower() for v, _ in ids.phrases.get("oid", []))  # written as VR UN
        assert any(v == p.issuer.lower() for v, _ in ids.phrases.get(p.issuer.lower().split("-")[0], []))
        dates = ids.dates[f"{p.patient_id}\x00{p.issuer}"]
        assert dates[p.study_date] in ("StudyDate", "SeriesDate") and dates[p.birth_date] == "PatientBirthDate"
        assert dates == ids.dates_for(Keys(KEY).patient_key(p.patient_id, p.issuer))  # the row's patient only
    assert "li" not in ids.words  # a given name under 3 characters is not searched alone
    assert ids.paths and all(path.endswith(".dcm") for path in ids.paths)
    a, b = corpus.patients[:2]  # one PatientID, two issuers: with --deid off the key is the ID, both count
    assert a.study_date in ids.dates_for(a.patient_id) and b.study_date in ids.dates_for(a.patient_id)
    assert b.study_date not in ids.dates_for(Keys(KEY).patient_key(a.patient_id, a.issuer))
    assert len(ids.dates_for("an unknown key")) == len({d for v in ids.dates.values() for d in v})


def test_values_are_never_shown(planted):
    corpus, ids = planted
    assert corpus.patients[0].family not in repr(ids) and corpus.patients[0].patient_id not in repr(ids)


def test_a_missing_or_empty_source_is_a_named_error(tmp_path):
    with pytest.raises(AuditSourceMissing, match="no such directory"):
        from_sources(Identifiers(), tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("not DICOM")
    with pytest.raises(AuditSourceMissing, match="no readable DICOM"):
        from_sources(Identifiers(), tmp_path)


def test_dates_in_every_spelling_but_not_in_uids_or_longer_numbers():
    d = dt.date(2014, 3, 7)
    text = "20140307, 2014-03-07, 07/03/2014, 2014.03.07, 20140307101500.25"
    assert list(dates_in(text)) == [d] * 5
    assert list(dates_in("1.2.840.20140307.1 and 120140307 and 20141307")) == []
    assert parse_date("07/03/2014") == d and parse_date("unknown") is None


def test_path_components_that_may_carry_an_identifier():
    assert path_components("HX-1234/20140307/ACC55_0.dcm") == ["HX-1234", "20140307", "ACC55_0"]
    assert path_components("chest/1.2.840.1234/1.2.840.1234.5.dcm") == []
