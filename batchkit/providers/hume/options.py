"""Hume job options: which models run and with what settings, transcription, notification."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from batchkit._kernel.not_given import NOT_GIVEN, NotGiven
from batchkit._kernel.options import Validator, choice, flag, number, text

Granularity = Literal["word", "sentence", "utterance", "conversational_turn"]
"""How finely text and speech are measured."""
_GRANULARITIES = ("word", "sentence", "utterance", "conversational_turn")
_unit = number(minimum=0.0, maximum=1.0)


def _opt(validator: Validator | None = None) -> Any:
    return attrs.field(default=None, validator=validator, kw_only=True)


def _wire(obj: Any, flags: tuple[str, ...] = ()) -> dict[str, Any]:
    """Set fields only; boolean ``flags`` are enabled on the wire as ``{}``."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if field.name in flags:
            if value:
                out[field.name] = {}
        elif attrs.has(type(value)):
            out[field.name] = _wire(value)
        elif value is not None:
            out[field.name] = value
    return out


@attrs.frozen(kw_only=True)
class Face:
    """The face model: faces found in images and video frames."""

    fps_pred: float | None = _opt(number(above=0))
    prob_threshold: float | None = attrs.field(default=None, validator=_unit)
    identify_faces: bool | None = _opt(flag)
    min_face_size: int | None = _opt(number(minimum=0, whole=True))
    facs: bool = attrs.field(default=False, validator=flag)
    descriptions: bool = attrs.field(default=False, validator=flag)
    save_faces: bool | None = _opt(flag)

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return _wire(self, ("facs", "descriptions"))


@attrs.frozen
class Burst:
    """The vocal burst model: laughs, sighs and other non-speech sounds."""

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return {}


@attrs.frozen
class Window:
    """A sliding window over text or audio: ``length`` and ``step`` in seconds."""

    length: float = attrs.field(validator=number(above=0))
    step: float = attrs.field(validator=number(above=0))


@attrs.frozen(kw_only=True)
class Prosody:
    """The speech prosody model: the tune, rhythm and timbre of speech."""

    granularity: Granularity | None = _opt(choice(*_GRANULARITIES))
    window: Window | None = None
    identify_speakers: bool | None = _opt(flag)

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return _wire(self)


@attrs.frozen(kw_only=True)
class Language:
    """The emotional language model: the words of text or of a transcript."""

    granularity: Granularity | None = _opt(choice(*_GRANULARITIES))
    sentiment: bool = attrs.field(default=False, validator=flag)
    toxicity: bool = attrs.field(default=False, validator=flag)
    identify_speakers: bool | None = _opt(flag)

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return _wire(self, ("sentiment", "toxicity"))


@attrs.frozen(kw_only=True)
class Ner:
    """Named entities in text or a transcript, with the emotions around them."""

    identify_speakers: bool | None = _opt(flag)

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return _wire(self)


@attrs.frozen
class Facemesh:
    """The facial mesh model (no options)."""

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return {}


@attrs.frozen(kw_only=True)
class Models:
    """The models to run; leave all unset to run every model."""

    face: Face | None = None
    burst: Burst | None = None
    prosody: Prosody | None = None
    language: Language | None = None
    ner: Ner | None = None
    facemesh: Facemesh | None = None

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return {f.name: m.to_wire() for f in attrs.fields(Models) if (m := getattr(self, f.name)) is not None}


@attrs.frozen(kw_only=True)
class Transcription:
    """How speech is transcribed: ``language`` (a code), ``identify_speakers``, ``confidence_threshold``."""

    language: str | None = _opt(text)
    identify_speakers: bool | None = _opt(flag)
    confidence_threshold: float | None = attrs.field(default=None, validator=_unit)

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        return _wire(self)


@attrs.frozen(kw_only=True)
class HumeOptions:
    """Options for a Hume job. ``transcription=None`` sends ``"transcription": null`` (no transcription);
    left out (``NOT_GIVEN``), Hume's default applies."""

    models: Models | None = None
    transcription: Transcription | NotGiven | None = NOT_GIVEN
    notify: bool | None = _opt(flag)

    def to_wire(self) -> dict[str, Any]:
        """This model's options as Hume's JSON has them (options left out are not sent)."""
        body: dict[str, Any] = {}
        if self.models is not None:
            body["models"] = self.models.to_wire()
        if self.transcription is None:
            body["transcription"] = None
        elif not isinstance(self.transcription, NotGiven):
            body["transcription"] = self.transcription.to_wire()
        if self.notify is not None:
            body["notify"] = self.notify
        return body
