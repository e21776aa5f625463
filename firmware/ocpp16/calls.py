# A call of the CSMS (OCPP 1.6 section 5), imported for it and unloaded (ChargePoint.on_demand):
# checked against its schema, handed to the module of its action (ocpp16.profiles.HANDLERS, loaded
# for the call), answered with its CALLRESULT or the CALLERROR it deserves. No I/O; the answer
# goes to the core's outbox. When this module itself cannot be loaded, the core answers
# InternalError.
import log
from ocpp16 import profiles
from ocpp16 import rpc


def answer(cp, msg_id, action, payload, now):
    name = profiles.handler(action)
    try:
        # unknown actions: NotImplemented; known ones no module handles: NotSupported
        rpc.validate_call(action, payload, (action,) if name else ())
        # an import that fails (ImportError, MemoryError) is an InternalError, tried again next time
        result = getattr(profiles.load(name), "on_" + action)(cp, payload, now)
    except rpc.RpcError as e:
        result = rpc.encode_error(msg_id, e.code, e.description)
    except Exception as e:  # a bug must not stop the firmware; the CSMS learns of it
        log.error("%s failed: %r", action, e)
        result = rpc.encode_error(msg_id, rpc.InternalError, "%s failed" % action)
        if isinstance(e, MemoryError):
            cp.security_event("MemoryExhaustion", now, action)
    else:
        result = rpc.encode_result(msg_id, result)
    finally:
        if name is not None and name not in cp.features:
            profiles.unload(name)
    cp.outbox.append(result)
    return True
