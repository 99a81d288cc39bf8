"""Files a merchant uploads in the portal tests: real, small, made on the spot."""

from __future__ import annotations

import functools
import io
import os
import struct
import tempfile

import cv2
import numpy as np


@functools.cache
def small_mp4(frames: int = 10) -> bytes:
    """Return a real MP4 packing video of a few grey frames (64×48)."""
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
        for i in range(frames):
            writer.write(np.full((48, 64, 3), i * 20 % 256, np.uint8))
        writer.release()
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_box(kind: bytes, payload: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0" + payload)


def mp4_header_claiming(frames: int = 10_000, frame_bytes: int = 2_000) -> bytes:
    """Return a well-formed MP4 header declaring `frames` frames of `frame_bytes` each over 64 bytes of media."""
    ftyp = _box(b"ftyp", b"isom\0\0\2\0isomiso2mp41")
    mdat = _box(b"mdat", b"\0" * 64)
    stbl = _box(
        b"stbl",
        _full_box(b"stts", struct.pack(">III", 1, frames, 512))
        + _full_box(b"stsz", struct.pack(">II", frame_bytes, frames))
        + _full_box(b"stco", struct.pack(">II", 1, len(ftyp) + 8)),
    )
    moov = _box(b"moov", _box(b"trak", _box(b"mdia", _box(b"minf", stbl))))
    return ftyp + mdat + moov


def _pyav_mp4(*, video: bool, audio: bool, seconds: float = 1.0) -> bytes:
    """Return an MP4 written by PyAV: MPEG-4 Part 2 picture and/or AAC sound."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        if video:
            picture = out.add_stream("mpeg4", rate=10)
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        if audio:
            sound = out.add_stream("aac", rate=48000)
            sound.layout = "mono"
        if video:
            for i in range(int(seconds * 10)):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20 % 256, np.uint8), format="rgb24")
                frame.pts = i
                out.mux(picture.encode(frame))
            out.mux(picture.encode(None))
        if audio:
            samples = 1024
            for i in range(int(seconds * 48000 / samples)):
                tone = np.sin(np.arange(i * samples, (i + 1) * samples) * 2 * np.pi * 440 / 48000)
                frame = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None, :], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48000, i * samples
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return buffer.getvalue()


@functools.cache
def upright_phone_mp4(rotation: int = -90) -> bytes:
    """Return what a phone held upright records: a landscape 64×32 picture whose top-left
    quarter is white, with a display matrix turning it by `rotation` degrees counter-clockwise
    (-90, a quarter turn clockwise, is what phones write)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        picture = out.add_stream("mpeg4", rate=10)
        picture.width, picture.height, picture.pix_fmt = 64, 32, "yuv420p"
        picture.set_display_rotation(rotation)
        for i in range(10):
            pixels = np.zeros((32, 64, 3), np.uint8)
            pixels[:16, :32] = 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            out.mux(picture.encode(frame))
        out.mux(picture.encode(None))
    return buffer.getvalue()


@functools.cache
def mp4_with_sound() -> bytes:
    """Return a packing video with sound: MPEG-4 Part 2 picture, AAC sound, one second."""
    return _pyav_mp4(video=True, audio=True)


@functools.cache
def sound_only_mp4() -> bytes:
    """Return an MP4 with sound and no picture."""
    return _pyav_mp4(video=False, audio=True)
