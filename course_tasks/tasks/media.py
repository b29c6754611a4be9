"""Guide 002 §5's image pipeline: five steps on one uploaded image, in order.

Chapter 07_canvas. An "image" is a hash ``media:image:<id>`` in the app-data store (its
format, its size in kB, the step it has reached); no pixels are touched. Each step checks
that the step before it ran, moves the image on and appends a line to :data:`LOG_KEY`, and
returns the image id, so a chain can pass it along (``validate_image.s(7) |
compress_image.s() | ...``). :func:`validate_image` refuses a format it does not know
(:class:`InvalidImage`), which stops a chain half-way. An upload can also ask for a later step
to fail (``upload(24, fail_at="generate_thumbnails", fail_with="OSError")``), as a full disk
or a storage service that is down would: the request travels with the image in the store, so
it works on a worker in another process (redis mode) as well as in the kernel's.
"""

from __future__ import annotations

from course_tasks.app import app
from course_tasks.store import store

LOG_KEY = "media:log"
FORMATS = ("jpeg", "png", "webp")
#: The stage each step needs the image to be at, and the stage it leaves it at.
STAGES = {
    "validate_image": ("uploaded", "validated"),
    "compress_image": ("validated", "compressed"),
    "generate_thumbnails": ("compressed", "thumbnails"),
    "update_image_metadata": ("thumbnails", "ready"),
    "notify_processing_complete": ("ready", "notified"),
}


class InvalidImage(Exception):
    """The upload is not an image the pipeline can process."""


class OutOfOrder(Exception):
    """A step ran before the step it depends on."""


#: What an upload can ask a step to fail with (``upload(..., fail_with=...)``): the errors a
#: real pipeline meets half-way, none of them retried by the steps.
FAILURES: dict[str, type[Exception]] = {
    "OSError": OSError,
    "RuntimeError": RuntimeError,
    "ConnectionError": ConnectionError,
}


def _key(image_id: int) -> str:
    return f"media:image:{image_id}"


def upload(
    image_id: int,
    size_kb: int | str = 800,
    fmt: str = "jpeg",
    *,
    fail_at: str | None = None,
    fail_with: str = "OSError",
    message: str = "",
) -> None:
    """Simulate an upload: the image exists, at the stage ``uploaded``.

    ``fail_at``: the step (a name in :data:`STAGES`) that will raise ``fail_with`` (a name in
    :data:`FAILURES`) with ``message`` on this image, once the steps before it have run.
    """
    fields: dict[str, str | int] = {"stage": "uploaded", "size_kb": size_kb, "format": fmt}
    if fail_at is not None:
        if fail_at not in STAGES or fail_with not in FAILURES:
            raise ValueError(f"fail_at must be one of {list(STAGES)}, fail_with one of "
                             f"{list(FAILURES)}; got {fail_at!r}, {fail_with!r}")  # fmt: skip
        fields.update(fail_at=fail_at, fail_with=fail_with, message=message)
    store().delete(_key(image_id))
    store().hset(_key(image_id), mapping=fields)


def image(image_id: int) -> dict[str, str]:
    """The stored fields of an image (``{}`` if there is none)."""
    raw = store().hgetall(_key(image_id))
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }


def log() -> list[str]:
    """The lines the pipeline's steps appended, oldest first."""
    return [x.decode() if isinstance(x, bytes) else x for x in store().lrange(LOG_KEY, 0, -1)]


def clear() -> None:
    """Forget every image and empty the log (a chapter's set-up cell calls this)."""
    keys = list(store().scan_iter("media:image:*"))
    if keys:
        store().delete(*keys)
    store().delete(LOG_KEY)


def _step(step: str, image_id: int, **fields: object) -> int:
    need, reach = STAGES[step]
    stored = image(image_id)
    stage = stored.get("stage")
    if stage != need:
        raise OutOfOrder(f"{step}: image {image_id} is {stage or 'missing'}, not {need}")
    if stored.get("fail_at") == step:
        raise FAILURES[stored["fail_with"]](stored.get("message") or f"{step} failed")
    store().hset(_key(image_id), mapping={"stage": reach, **fields})
    store().rpush(LOG_KEY, f"{step}(image {image_id})")
    return image_id


@app.task
def validate_image(image_id: int) -> int:
    """Step 1: accept only known formats (raises :class:`InvalidImage` otherwise)."""
    fmt = image(image_id).get("format")
    if fmt is not None and fmt not in FORMATS:
        store().rpush(LOG_KEY, f"validate_image(image {image_id}) refused {fmt}")
        raise InvalidImage(f"image {image_id}: unsupported format {fmt!r}")
    return _step("validate_image", image_id)


@app.task
def compress_image(image_id: int) -> int:
    """Step 2: "compress" the image to 40 % of its size."""
    size = int(image(image_id).get("size_kb", 0))
    return _step("compress_image", image_id, size_kb=size * 4 // 10)


@app.task
def generate_thumbnails(image_id: int) -> int:
    """Step 3: "make" the 64 and 256 px thumbnails."""
    return _step("generate_thumbnails", image_id, thumbnails="64,256")


@app.task
def update_image_metadata(image_id: int) -> int:
    """Step 4: mark the image ready."""
    return _step("update_image_metadata", image_id)


@app.task
def notify_processing_complete(image_id: int) -> int:
    """Step 5: tell the uploader (simulated: a log line)."""
    return _step("notify_processing_complete", image_id)
