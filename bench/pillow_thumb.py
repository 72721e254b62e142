"""Pillow's thumbnailer, as a user would write it: `python pillow_thumb.py IN OUT`.

Image.thumbnail((400, 400), LANCZOS) (which uses JPEG draft mode, i.e. DCT shrink-on-load), then
EXIF orientation and, for images with an ICC profile, conversion to sRGB (what fitbox and
`vipsthumbnail -e srgb` do), then JPEG quality 85.
"""

import io
import sys

from PIL import Image, ImageCms, ImageOps

BOX = int(sys.argv[3]) if len(sys.argv) > 3 else 400

im = Image.open(sys.argv[1])
im.thumbnail((BOX, BOX), Image.LANCZOS)
im = ImageOps.exif_transpose(im)
icc = im.info.get("icc_profile")
if im.mode not in ("RGB", "L"):
    im = im.convert("RGB")
if icc:
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
im.save(sys.argv[2], "JPEG", quality=85)
