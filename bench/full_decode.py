"""Full-size reference decode: `python full_decode.py IN OUT.png` (upright, sRGB, no metadata)."""

import io
import sys

from PIL import Image, ImageCms, ImageOps

Image.MAX_IMAGE_PIXELS = None
im = Image.open(sys.argv[1])
im = ImageOps.exif_transpose(im)
icc = im.info.get("icc_profile")
im = im.convert("RGB")
if icc:
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
im.save(sys.argv[2], "PNG", compress_level=0)
