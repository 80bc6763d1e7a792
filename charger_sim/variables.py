"""2.0.1 variables over the device model: GetVariables/SetVariables items, NotifyReport data.

Results echo the requested component and variable; statuses are those of the official schema
(Accepted, Rejected, UnknownComponent, UnknownVariable, NotSupportedAttributeType,
RebootRequired). Only the ``Actual`` attribute exists.
"""

from __future__ import annotations

from charger_sim.device import AVAILABILITY, MEASURANDS_201, Device, Name201, Setting
from charger_sim.rpc import Payload


def _name(item: Payload) -> Name201:
    component, variable = item["component"], item["variable"]
    evse = component.get("evse") or {}
    return Name201(
        component["name"],
        variable["name"],
        variable.get("instance"),
        evse.get("id"),
        evse.get("connectorId"),
        component.get("instance"),
    )


def _result(item: Payload) -> Payload:
    result = {"component": item["component"], "variable": item["variable"]}
    if "attributeType" in item:
        result["attributeType"] = item["attributeType"]
    return result


def get_variable(device: Device, item: Payload) -> Payload:
    """One GetVariables result; only the Actual attribute exists."""
    result = _result(item)
    found = device.find201(_name(item))
    if isinstance(found, str):
        result["attributeStatus"] = found
    elif item.get("attributeType", "Actual") != "Actual":
        result["attributeStatus"] = "NotSupportedAttributeType"  # only Actual values exist
    elif found.mutability == "WriteOnly":
        result["attributeStatus"] = "Rejected"
        result["attributeStatusInfo"] = {"reasonCode": "WriteOnly"}
    else:
        result["attributeStatus"] = "Accepted"
        result["attributeValue"] = found.current
    return result


def set_variable(device: Device, item: Payload) -> tuple[Payload, Setting | None]:
    """The result for one item, and the setting it changed (if it did)."""
    result = _result(item)
    found = device.find201(_name(item))
    if isinstance(found, str):
        result["attributeStatus"] = found
        return result, None
    if item.get("attributeType", "Actual") != "Actual":
        result["attributeStatus"] = "NotSupportedAttributeType"
        return result, None
    outcome = device.write(found, item["attributeValue"], "2.0.1")
    result["attributeStatus"] = outcome.status
    if outcome.reason is not None:
        result["attributeStatusInfo"] = {"reasonCode": outcome.reason}
    return result, (found if outcome.status != "Rejected" else None)


def in_base(setting: Setting, base: str) -> bool:
    if base == "ConfigurationInventory":
        return setting.mutability != "ReadOnly"
    if base == "SummaryInventory":
        return setting.v201 is not None and setting.v201.variable == "AvailabilityState"
    return True  # FullInventory


def report_data(setting: Setting) -> Payload:
    name = setting.v201
    assert name is not None
    component: Payload = {"name": name.component}
    if name.evse is not None:
        component["evse"] = {"id": name.evse}
    variable: Payload = {"name": name.variable}
    if name.instance is not None:
        variable["instance"] = name.instance
    attribute: Payload = {"type": "Actual", "mutability": setting.mutability}
    if setting.mutability != "WriteOnly":
        attribute["value"] = setting.current
    characteristics: Payload = {"dataType": _data_type(setting), "supportsMonitoring": False}
    options = _values_list(setting)
    if options is not None:
        characteristics["valuesList"] = options
    return {
        "component": component,
        "variable": variable,
        "variableAttribute": [attribute],
        "variableCharacteristics": characteristics,
    }


def _data_type(setting: Setting) -> str:
    """The 2.0.1 dataType of a setting (the official schema has no passwordString)."""
    return {"password": "string"}.get(setting.kind, setting.kind)


def _values_list(setting: Setting) -> str | None:
    """A 2.0.1 valuesList for list-valued settings."""
    if setting.kind == "MemberList":
        return ",".join(sorted(MEASURANDS_201))
    if setting.kind == "OptionList":
        return AVAILABILITY
    return None
