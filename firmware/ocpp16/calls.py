# A call of the CSMS (OCPP 1.6 section 5), imported for it and unloaded (ChargePoint.on_demand):
# checked against its schema, handed to the module of its action (ocpp16.profiles.HANDLERS, loaded
# for the call), answered with its CALLRESULT or the CALLERROR it deserves. No I/O; the answer
# goes to the core's outbox. When this module itself cannot be loaded, the core answers
# InternalError. Also what the handlers use of the core (ChargePoint.__getattr__): loading and
# dropping a resident feature, reporting a security event (a handler runs while this is loaded).
from compat import const
import log
from ocpp16 import profiles
from ocpp16 import rpc

# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed
# (a handler's or a hook's name is interned when its module is loaded).
_ON = const("on_")  # on_<action>: the handler of a CSMS call
_ATTACH = const("attach")  # a resident feature's set-up, when it has one


def answer(cp, msg_id, action, payload, now):
    name = profiles.handler(action)
    try:
        # unknown actions: NotImplemented; known ones no module handles: NotSupported
        rpc.validate_call(action, payload, (action,) if name else ())
        # an import that fails (ImportError, MemoryError) is an InternalError, tried again next time
        result = getattr(profiles.load(name), _ON + action)(cp, payload, now)
    except rpc.RpcError as e:
        result = rpc.encode_error(msg_id, e.code, e.description)
    except Exception as e:  # a bug must not stop the firmware; the CSMS learns of it
        log.error("%s failed: %r", action, e)
        result = rpc.encode_error(msg_id, rpc.InternalError, "%s failed" % action)
        if isinstance(e, MemoryError):
            security_event(cp, "MemoryExhaustion", now, action)
    else:
        result = rpc.encode_result(msg_id, result)
    finally:
        if name is not None and name not in cp.features:
            profiles.unload(name)
    cp.outbox.append(result)
    return True


# What the handlers use of the core, kept here (ChargePoint.__getattr__): the resident
# features, the security events, whether nothing waits to be sent.
def feature(cp, name, now):
    """The feature module `name`, loaded and kept resident (cp.features) until drop_feature;
    None when it cannot be loaded (charging goes on without it)."""
    mod = cp.features.get(name)
    if mod is None:
        mod = cp.on_demand(name, None)
        if mod is not None:
            cp.features[name] = mod
            attach = getattr(mod, _ATTACH, None)
            if attach is not None:
                attach(cp, now)
    return mod


def drop_feature(cp, name):
    """A feature holds no more state: its module leaves RAM."""
    if cp.features.pop(name, None) is not None:
        profiles.unload(name)


def idle(cp):
    """Nothing waiting to be sent or answered (the app's drain at the end of a simulation, a
    firmware update's before its reboot)."""
    return cp.pending is None and not cp.ram and cp.queue.peek(False) is None


def security_event(cp, kind, now, info=None):
    """Report a Security whitepaper event (ocpp16.secevents, loaded for the call): logged on
    flash, sent to the CSMS (the critical ones through the queue)."""
    try:
        cp.on_demand("secevents", "report", kind, now, info)
    except Exception as e:  # MemoryError, flash: charging goes on
        log.error("%s failed: %r", kind, e)
