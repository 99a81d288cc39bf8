"""Packing videos: checked on upload, and a copy every browser plays made in the worker.

Phones and OpenCV (fourcc ``mp4v``) write MP4 files whose picture is MPEG-4 Part 2, which no
browser decodes: accepted as they are, they would never play. The original is kept as sent
(it is evidence); ``prepare`` derives H.264 in MP4 (yuv420p, the moov box first so that
playing starts before the download ends) with AAC sound, and a JPEG poster frame, through
PyAV (FFmpeg's libraries, with libx264 in its wheels).

A phone holding the camera upright records the sensor's landscape picture and a display
matrix saying "turn this a quarter"; the copy and its poster are turned for good, so that
every player and the poster show the packing the way it was filmed.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from typing import IO

import av
import numpy as np
from django.conf import settings

from refunds.errors import ErrorCode, UploadRejected

# Browsers and phones play H.264 High profile up to 1080p everywhere; the playable copy is
# for watching, so its long edge is capped (the original keeps every pixel).
H264_ENCODER = "libx264"
# "superfast": on 5 s of 1080p30 scaled to 720p, under the same load, veryfast took 19 s,
# superfast 13 s and ultrafast 9 s, for 1.0, 1.7 and 2.3 MB. The conversion must end within
# the task's time limit (below the broker's visibility timeout) for the longest video accepted.
H264_PRESET = "superfast"
MAX_FRAME_RATE = 60
DEFAULT_FRAME_RATE = Fraction(25)


class VideoNotPlayable(Exception):
    """The video cannot be turned into a playable copy; ``code`` says why."""

    def __init__(self, code: ErrorCode):
        super().__init__(str(code.message))
        self.code = code


@dataclass(frozen=True)
class PreparedVideo:
    video: IO[bytes]  # H.264 in MP4, positioned at its start
    poster: bytes  # JPEG
    width: int
    height: int


def _duration_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def check_upload(data: bytes, *, field: str) -> None:
    """Raise UploadRejected unless the MP4 has a picture that decodes, within the size and
    length limits. Reads the headers and decodes the first frame only."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise UploadRejected(ErrorCode.UNPLAYABLE_VIDEO, details={"param": field}, status=415)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > settings.UPLOAD_MAX_PIXELS:
                raise UploadRejected(
                    ErrorCode.VIDEO_TOO_LARGE,
                    limit=settings.UPLOAD_MAX_PIXELS,
                    details={"param": field, "width": width, "height": height},
                    status=413,
                )
            seconds = _duration_seconds(container, stream)
            if seconds > settings.VIDEO_MAX_SECONDS:
                raise UploadRejected(
                    ErrorCode.VIDEO_TOO_LONG,
                    limit=settings.VIDEO_MAX_SECONDS,
                    details={"param": field, "seconds": round(seconds, 1)},
                    status=413,
                )
            if next(container.decode(stream), None) is None:
                raise UploadRejected(ErrorCode.UNPLAYABLE_VIDEO, details={"param": field}, status=415)
    except UploadRejected:
        raise
    except (av.FFmpegError, ValueError, IndexError):
        raise UploadRejected(ErrorCode.UNPLAYABLE_VIDEO, details={"param": field}, status=415) from None


def _target_size(width: int, height: int) -> tuple[int, int]:
    """Return the playable copy's size: the long edge capped, both sides even (yuv420p needs it)."""
    scale = min(1.0, settings.VIDEO_MAX_EDGE / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Return how many quarter turns counter-clockwise show `frame` upright (its display matrix)."""
    # PyAV reads the angle by which the display matrix turns the picture counter-clockwise;
    # phones write only multiples of 90 degrees.
    return round((frame.rotation or 0) / 90) % 4


def _upright(frame: av.VideoFrame, turns: int, width: int, height: int) -> av.VideoFrame:
    """Return `frame` scaled to width x height (the stored picture's size) and turned upright, in yuv420p."""
    if not turns:
        return frame.reformat(width=width, height=height, format="yuv420p")
    rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
    turned = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(rgb, turns)), format="rgb24")
    return turned.reformat(format="yuv420p")


def _frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or DEFAULT_FRAME_RATE
    rate = Fraction(rate).limit_denominator(1001)
    return rate if 0 < rate <= MAX_FRAME_RATE else DEFAULT_FRAME_RATE


def prepare(source: IO[bytes]) -> PreparedVideo:
    """Return the H.264 copy and poster of the video read from ``source``; raise VideoNotPlayable
    if it has no picture that decodes. Frames beyond VIDEO_MAX_SECONDS are left out."""
    # A path, not a file object: the "faststart" pass reads the file back to move its header.
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    poster = None
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise VideoNotPlayable(ErrorCode.UNPLAYABLE_VIDEO)
            video_in = container.streams.video[0]
            audio_in = container.streams.audio[0] if container.streams.audio else None
            rate = _frame_rate(video_in)
            width, height = _target_size(video_in.codec_context.width, video_in.codec_context.height)
            first = next(container.decode(video_in), None)
            if first is None:
                raise VideoNotPlayable(ErrorCode.UNPLAYABLE_VIDEO)
            turns = _quarter_turns(first)
            shown = (height, width) if turns % 2 else (width, height)
            container.seek(0)
            with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
                video_out = out.add_stream(H264_ENCODER, rate=rate)
                video_out.width, video_out.height = shown
                video_out.pix_fmt = "yuv420p"
                video_out.options = {"preset": H264_PRESET, "crf": "23"}
                video_out.codec_context.time_base = 1 / rate
                audio_out = resampler = None
                if audio_in is not None:
                    audio_out = out.add_stream("aac", rate=48000)
                    audio_out.layout = "stereo"
                    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
                last_pts = -1
                streams = [video_in] + ([audio_in] if audio_in is not None else [])
                for packet in container.demux(*streams):
                    for frame in packet.decode():
                        if frame.time is not None and frame.time > settings.VIDEO_MAX_SECONDS:
                            continue
                        if isinstance(frame, av.VideoFrame):
                            picture = _upright(frame, turns, width, height)
                            if poster is None:
                                poster = _jpeg(picture)
                            # Keep the frames' own timing (phones record at a variable rate),
                            # on the output's clock, never going backwards.
                            pts = round(frame.time * rate) if frame.time is not None else last_pts + 1
                            picture.pts = last_pts = max(pts, last_pts + 1)
                            picture.time_base = video_out.codec_context.time_base
                            out.mux(video_out.encode(picture))
                        elif audio_out is not None and resampler is not None:
                            frame.pts = None
                            for resampled in resampler.resample(frame):
                                out.mux(audio_out.encode(resampled))
                out.mux(video_out.encode(None))
                if audio_out is not None:
                    out.mux(audio_out.encode(None))
        if poster is None:
            raise VideoNotPlayable(ErrorCode.UNPLAYABLE_VIDEO)
        output = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except (av.FFmpegError, ValueError, IndexError):
        raise VideoNotPlayable(ErrorCode.UNPLAYABLE_VIDEO) from None
    finally:
        # The open handle keeps the data readable; the name goes now, whatever happened.
        os.unlink(path)
    return PreparedVideo(output, poster, *shown)


def _jpeg(frame: av.VideoFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_image().save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
