"""Flood samples made cheap: the adapter's own frame, encoded once, with the numbers filled in.

In ``--flood`` a charger sends one meter sample after another, so building each one through
the adapter (dicts, ``datetime``, ``json.dumps``, a uuid4) would cost the load generator more
than the CSMS it measures. Instead the first sample of a transaction goes through the adapter
as usual, and :func:`template` turns the CALL it sent into a :class:`SampleFrames`, which only
substitutes what changes from one sample to the next: the message id, the timestamp, the
register value and (2.0.1) the ``seqNo``. Anything else stays byte for byte what the adapter
sent. A payload of another shape (more than the energy register, say) gets no template, and
every sample then goes through the adapter.
"""

from __future__ import annotations

import json
import time
from typing import Any

from charger_sim.rpc import CALL, Payload
from charger_sim.sampling import ENERGY

# Stand-ins for the values that change, as JSON text; each must occur as often as expected.
_ID, _STAMP, _TEXT, _NUMBER, _SEQ = "@@id@@", "@@stamp@@", "@@text@@", "@@number@@", "@@seq@@"
_FIELDS = {
    f'"{_ID}"': '"%(id)s"',
    f'"{_STAMP}"': '"%(stamp)s"',
    f'"{_TEXT}"': '"%(wh)d"',  # 1.6: the value as a string
    f'"{_NUMBER}"': "%(wh)d",  # 2.0.1: the value as a number
    f'"{_SEQ}"': "%(seq)d",
}


class SampleFrames:
    """The CALL frame of one charger's flood samples, as UTF-8 bytes, for a given id, time,
    register value (Wh) and ``seqNo`` (ignored by 1.6)."""

    __slots__ = ("_template",)

    def __init__(self, template: str) -> None:
        self._template = template

    def frame(self, message_id: str, stamp: str, wh: int, seq: int) -> bytes:
        values = {"id": message_id, "stamp": stamp, "wh": wh, "seq": seq}
        return (self._template % values).encode()


def template(action: str, payload: Payload, wh: int) -> SampleFrames | None:
    """The frames for samples like ``payload`` (an ``action`` CALL whose register read ``wh``);
    None unless it is a periodic sample of exactly one meter value with one sampled value, the
    register in Wh (so not a sample the CSMS triggered meanwhile, say)."""
    copy: Any = json.loads(json.dumps(payload))
    if copy.get("triggerReason", "MeterValuePeriodic") != "MeterValuePeriodic":
        return None  # 2.0.1: a TransactionEvent, but not a periodic sample
    meter_values = copy.get("meterValue")
    if not isinstance(meter_values, list) or len(meter_values) != 1:
        return None
    meter_value = meter_values[0]
    sampled = meter_value.get("sampledValue")
    if not isinstance(sampled, list) or len(sampled) != 1:
        return None
    value = sampled[0]
    if value.get("measurand") != ENERGY or value.get("context") != "Sample.Periodic":
        return None
    if value.get("value") == str(wh):
        value["value"] = _TEXT
    elif value.get("value") == wh and isinstance(value["value"], int):
        value["value"] = _NUMBER
    else:
        return None  # not the register in whole Wh (kWh, say)
    stamps = 1
    meter_value["timestamp"] = _STAMP
    if "timestamp" in copy:  # 2.0.1: the event's time, the same as its meter value's
        if copy["timestamp"] != payload["meterValue"][0]["timestamp"]:
            return None
        copy["timestamp"] = _STAMP
        stamps += 1
    seqs = 0
    if "seqNo" in copy:
        copy["seqNo"] = _SEQ
        seqs = 1
    # As rpc.Connection encodes a CALL; "%" doubled for the %-formatting below.
    text = json.dumps([CALL, _ID, action, copy], separators=(",", ":")).replace("%", "%%")
    expected = {_ID: 1, _STAMP: stamps, _SEQ: seqs}
    for stand_in, count in expected.items():
        if text.count(f'"{stand_in}"') != count or text.count(stand_in) != count:
            return None
    if text.count(_TEXT) + text.count(_NUMBER) != 1:
        return None
    for stand_in, field in _FIELDS.items():
        text = text.replace(stand_in, field)
    return SampleFrames(text)


class WireClock:
    """The current time as :func:`charger_sim.timefmt.now` writes it (UTC, milliseconds, Z),
    formatting the date and time of day only once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((t - second) * 1000):03d}Z"
