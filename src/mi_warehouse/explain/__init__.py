"""`mi-warehouse explain`: saliency maps (class activation maps, occlusion sensitivity) of a
registered model over a cohort's images, written as PNG overlays on the PHI side of storage."""
