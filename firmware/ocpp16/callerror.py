# The OCPP-J 1.6 CALLERROR vocabulary: the ten error codes and RpcError, the one exception
# a refused frame or payload raises. Shared by rpc (framing) and schema (payload checks),
# so neither imports the other's module for it; no logic here.

# CALLERROR codes (OCPP-J 1.6 section 4.2.3), spelled exactly as the spec spells them.
NotImplemented = "NotImplemented"  # action not known by the receiver
NotSupported = "NotSupported"      # action known but not supported by the receiver
InternalError = "InternalError"    # the receiver failed while processing the action
ProtocolError = "ProtocolError"    # payload (here also: the frame) is incomplete
SecurityError = "SecurityError"    # a security issue stopped the action
FormationViolation = "FormationViolation"  # syntactically incorrect / not the PDU structure
PropertyConstraintViolation = "PropertyConstraintViolation"  # a field holds an invalid value
OccurenceConstraintViolation = "OccurenceConstraintViolation"  # a field occurs too few/many times
TypeConstraintViolation = "TypeConstraintViolation"  # a field has the wrong data type
GenericError = "GenericError"      # anything else
ERROR_CODES = (NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError,
               FormationViolation, PropertyConstraintViolation, OccurenceConstraintViolation,
               TypeConstraintViolation, GenericError)
NAME_IN_ERROR = 40  # chars of a CSMS-chosen name (unknown action or field) quoted in a description


class RpcError(Exception):
    """A frame or payload the receiver must refuse.

    code: one of ERROR_CODES. description: short text for errorDescription.
    msg_id: the frame's id when it could be recovered, else None.
    answer: True when the spec wants a CALLERROR sent back (the frame was, or may
    have been, a CALL); send it with msg_id, or rpc.UNKNOWN_ID when msg_id is None.
    False for broken CALLRESULT/CALLERROR frames (a CALLERROR only ever answers a
    CALL; the caller fails its pending call if msg_id matches) and for unknown
    message type numbers, which OCPP-J 1.6 section 4.1.3 says to ignore. Its str():
    "code: description"."""

    def __init__(self, code, description="", msg_id=None, answer=True):
        self.code = code
        self.description = description
        self.msg_id = msg_id
        self.answer = answer

    def __str__(self):  # (a __str__, not super().__init__(text): its closure held ~150 B more)
        return "%s: %s" % (self.code, self.description)
