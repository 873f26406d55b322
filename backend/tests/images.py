"""Images de test générées à la volée."""

import base64
import io

from PIL import Image


def png_bytes(size: int, color: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    image = Image.new("RGB", (size, size), color)
    for x in range(0, size, 4):  # un motif, pour ne pas envoyer une image uniforme
        image.putpixel((x, x), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(size: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(size)).decode()


def image_message(url: str, text: str = "Décris cette image.") -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]
