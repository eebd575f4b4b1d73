"""Image understanding shared by the local backend's effects and the painter's selection: pixel
helpers and the subject estimate. Pure numpy + Pillow, loading nothing of the server, so
``masks.select_subject`` does not pull the backend in."""
