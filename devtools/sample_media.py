"""Sample media drawn in code (the repository holds no binaries), and media types read from first bytes."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib


def sample_photo(width: int = 480, height: int = 320) -> bytes:
    """A small PNG of a street with a stall on the pavement, drawn here so the repository holds no binaries."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # PNG filter type 0 for the row
        for x in range(width):
            if y < height * 0.55:
                shade = int(150 + 80 * y / height)
                pixel = (shade - 60, shade - 20, 255)  # sky
            elif y < height * 0.68:
                pixel = (190, 185, 175)  # pavement
            else:
                stripe = (y - int(height * 0.82)) in range(4) and (x // 30) % 2 == 0
                pixel = (240, 220, 60) if stripe else (80, 80, 85)  # road with its centre line
            if width * 0.55 < x < width * 0.8 and height * 0.45 < y < height * 0.66:
                pixel = (200, 40, 40) if y < height * 0.5 else (230, 230, 225)  # the stall's awning and table
            row.extend(pixel)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def sample_voice(seconds: float = 1.5, rate: int = 8000) -> bytes:
    """A short, soft two-tone WAV clip standing in for a voice message."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        tone = 440 if n < rate * seconds / 2 else 550
        envelope = min(1.0, n / 400, (seconds * rate - n) / 400)
        frames.extend(struct.pack("<h", int(6000 * envelope * math.sin(2 * math.pi * tone * n / rate))))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(bytes(frames))
    return buffer.getvalue()


def media_type(content: bytes) -> str | None:
    """The media type of an image or sound by its first bytes; None for anything else."""
    signatures = (
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"OggS", "audio/ogg"),
    )
    for prefix, kind in signatures:
        if content.startswith(prefix):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return "audio/wav"
    return None
