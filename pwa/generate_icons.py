"""Draws the app's icons (a white plus over a minus on the accent blue).

Run once by hand (`pip install pillow; cd pwa/icons; python3 ../generate_icons.py`); the PNGs it writes
are committed, and the build only copies them.
"""

from PIL import Image, ImageDraw

BACKGROUND = (31, 86, 214, 255)  # --accent in frontend/style.css
GLYPH = (255, 255, 255, 255)


def draw(size, maskable):
    big = size * 4  # drawn large, then scaled down: smooth edges without anti-aliasing support
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        # Full bleed: the launcher cuts its own shape; the glyph stays in the safe zone.
        pen.rectangle([0, 0, big, big], fill=BACKGROUND)
        scale = 0.78
    else:
        pen.rounded_rectangle([0, 0, big - 1, big - 1], radius=int(big * 0.22), fill=BACKGROUND)
        scale = 1.0

    def bar(cx, cy, w, h):
        cx, cy = 0.5 + (cx - 0.5) * scale, 0.5 + (cy - 0.5) * scale
        w, h = w * scale, h * scale
        box = [int((cx - w / 2) * big), int((cy - h / 2) * big),
               int((cx + w / 2) * big), int((cy + h / 2) * big)]
        pen.rounded_rectangle(box, radius=int(min(w, h) * big / 2), fill=GLYPH)

    thick, long = 0.11, 0.44
    bar(0.5, 0.40, long, thick)
    bar(0.5, 0.40, thick, long)
    bar(0.5, 0.75, long, thick)
    return image.resize((size, size), Image.LANCZOS)


for size in (192, 512):
    draw(size, False).save(f"icon-{size}.png", optimize=True)
    draw(size, True).save(f"icon-maskable-{size}.png", optimize=True)
draw(180, True).convert("RGB").save("apple-touch-icon.png", optimize=True)
draw(48, False).save("favicon-48.png", optimize=True)
