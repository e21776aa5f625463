# The bench's `ntptime`: on the other end of machine's wire (machine.py says how).
from machine import request


def __getattr__(name):
    return request(__name__, name)
