"""What explain writes and where: the overlay PNG, the manifest, path-free file names, the PHI-side
output folder (never the core database), and the card's optional ``cam`` fields."""

from __future__ import annotations

import io

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from mi_warehouse.explain.errors import ExplainError
from mi_warehouse.explain.locations import inside, resolve_out
from mi_warehouse.explain.manifest import file_name, read_manifest, write_manifest
from mi_warehouse.explain.overlay import blend, normalise_map, overlay_png
from mi_warehouse.explain.run import choose_method, cohort_images_query
from mi_warehouse.models.card import ModelCard, ModelCardInvalid

PHI = "file:///srv/data/mi_phi"
CORES = ["file:///srv/data/mi", "file:///srv/data/mi"]

CARD = yaml.safe_load("""
name: m
version: 1.0.0
labels: [normal, finding]
positive_label: finding
decision_threshold: 0.5
input: {name: x, layout: NCHW, channels: 1, height: 8, width: 8}
output: {name: p, kind: softmax}
preprocessing: {scaling: window}
""")


def test_overlay_is_a_png_of_the_image_size_coloured_where_the_map_is_high():
    image = np.full((40, 60), 0.5)
    saliency = np.zeros((4, 4))
    saliency[0, 0] = 3.0  # top-left cell only
    saliency[3, 3] = -5.0  # negative evidence is not drawn
    png = overlay_png(image, saliency)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"tEXt" not in png and b"Software" not in png
    rgb = imread(io.BytesIO(png))[:, :, :3]
    assert rgb.shape == (40, 60, 3)
    assert np.allclose(rgb[-1, -1], 0.5, atol=1 / 255)  # untouched grey
    assert not np.allclose(rgb[0, 0], rgb[0, 0].mean(), atol=0.05)  # coloured
    assert np.allclose(blend(image, np.zeros((4, 4))), 0.5)
    assert normalise_map(np.array([-1.0, 2.0, 4.0])).tolist() == [0.0, 0.5, 1.0]


def test_file_names_are_path_free():
    assert file_name("1.2.840.10008.5.1", "cam") == "1.2.840.10008.5.1.cam.png"
    odd = file_name("/data/DOE^JOHN/19700101/img.dcm", "occlusion")
    assert "/" not in odd and "DOE" not in odd and odd.endswith(".occlusion.png")


def test_manifest_round_trip(tmp_path):
    folder = tmp_path.as_uri() + "/x"
    assert read_manifest(folder)["images"] == {}
    write_manifest(folder, {"model": "m:1", "images": {"1.2": {"file": "1.2.cam.png"}}, "errors": {}})
    assert read_manifest(folder)["images"]["1.2"]["file"] == "1.2.cam.png"
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["manifest.json"]  # no temporary left


def test_output_folders_are_on_the_phi_side_only():
    assert resolve_out("review/fp", PHI, CORES) == PHI + "/_explain/review/fp"
    assert resolve_out(PHI + "/maps", PHI, CORES) == PHI + "/maps"
    assert resolve_out("/srv/data/mi_phi/maps/", PHI, CORES) == "/srv/data/mi_phi/maps"
    for bad in ("/tmp/maps", "file:///srv/data/mi/maps", "/srv/data/mi", "hdfs://nn/srv/data/mi_phi/x"):
        with pytest.raises(ExplainError, match="only under the PHI database's location"):
            resolve_out(bad, PHI, CORES)
    with pytest.raises(ExplainError, match="must not leave"):
        resolve_out("../mi/x", PHI, CORES)
    with pytest.raises(ExplainError, match="inside the core database"):  # a PHI location under the core one
        resolve_out("x", "file:///srv/data/mi/phi", ["file:///srv/data/mi"])
    assert inside("file:///a/mi_phi/x", "file:///a/mi_phi") and not inside("file:///a/mi_phi", "file:///a/mi")
    assert inside("file:/a/b", "/a") and inside("file://localhost/a/b", "file:///a")


def test_the_cam_fields_are_optional_and_validated():
    card = ModelCard.from_dict(CARD)
    assert card.cam is None and "cam" not in card.to_dict()
    assert choose_method(None, card) == "occlusion"
    with pytest.raises(ExplainError, match="declares no cam"):
        choose_method("cam", card)
    with pytest.raises(ExplainError, match="must be one of cam, occlusion"):
        choose_method("gradcam", card)
    with_cam = ModelCard.from_dict({**CARD, "cam": {"feature_map": "feat", "weights": "fc.weight"}})
    assert with_cam.cam.weights == ("fc.weight",) and choose_method(None, with_cam) == "cam"
    assert ModelCard.from_json(with_cam.to_json()) == with_cam
    assert with_cam.to_dict()["cam"] == {"feature_map": "feat", "weights": ["fc.weight"]}
    for cam, field in (({"weights": ["w"]}, "cam.feature_map"), ({"feature_map": "f", "weights": []}, "cam.weights"),
                       ({"feature_map": "f", "weights": [""]}, r"cam.weights\[0\]"),
                       ({"feature_map": "f", "weights": ["w"], "layer": 3}, "cam.layer")):
        with pytest.raises(ModelCardInvalid, match=field):
            ModelCard.from_dict({**CARD, "cam": cam})


def test_cohort_query_joins_the_phi_locations():
    class S:
        database, phi_database = "mi", "mi_phi"

    q = cohort_images_query("SELECT sop_instance_uid FROM mi.labels", S(), limit=5)
    assert "`mi_phi`.`image_locations`" in q and q.rstrip().endswith("LIMIT 5")
    assert "FROM `mi`.`cohort_x`" in cohort_images_query("cohort_x", S())


def test_gallery_embeds_the_maps_it_has_and_says_why_not_for_the_others(tmp_path):
    from mi_warehouse.explain.manifest import write_bytes
    from mi_warehouse.reports.gallery import Case, errors_query, gallery_html

    folder = tmp_path.as_uri()
    png = overlay_png(np.full((8, 8), 0.5), np.eye(8))
    write_bytes(folder + "/1.2.cam.png", png)
    write_manifest(folder, {"model": "m:1", "images": {"1.2": {"file": "1.2.cam.png", "method": "cam"}},
                            "errors": {"1.3": "cannot decode pixel data"}})
    cases = [Case("1.2", 0, 0.97, "false positive"), Case("1.3", 1, 0.02, "false negative")]
    page = gallery_html(cases, folder)
    assert page.count(' saliency"><figcaption>') == 1 and "cannot decode pixel data" in page
    assert __import__("base64").b64encode(png).decode() in page
    assert "None at the threshold: true positives" in page
    assert "no map" in gallery_html([Case("9.9", 1, 0.9, "true positive")], folder)

    class S:
        database = "mi"

    q = errors_query(S(), "m:1", "c", "test", 3)
    assert q.count("UNION ALL") == 2 and "WHERE rk <= 3" in q and "split = 'test'" in q
    assert "split" not in errors_query(S(), "m:1", "c", "all", 3)


def test_an_unreadable_image_is_named_by_uid_and_the_others_go_on(tmp_path):
    from pydicom.data import get_testdata_file

    from mi_warehouse.explain.model import ExplainModel
    from mi_warehouse.explain.run import ExplainSummary, _batch

    from .test_explain_maps import _card, _model

    card = _card(None)
    net = ExplainModel(_model().SerializeToString(), card, cam=False)
    secret = tmp_path / "DOE^JANE" / "not-dicom.dcm"
    secret.parent.mkdir()
    secret.write_bytes(b"x" * 300)
    folder = (tmp_path / "out").as_uri()
    manifest = {"images": {}, "errors": {}}
    summary = ExplainSummary("quadrant:1.0.0", "occlusion", folder)
    _batch(net, "occlusion", [("1.2.3", str(secret)), ("1.2.4", get_testdata_file("CT_small.dcm"))], 8,
           folder, manifest, summary)
    assert summary.written == 1 and list(manifest["images"]) == ["1.2.4"]
    assert "not a DICOM file" in summary.errors["1.2.3"] and "DOE" not in summary.errors["1.2.3"]
    assert (tmp_path / "out" / "1.2.4.occlusion.png").read_bytes()[:4] == b"\x89PNG"
