# The rarely used rest of the fake `machine` (no driver of a board uses it): loaded by
# machine.__getattr__ on first use, so a session that never asks pays nothing for it.
import machine


class SoftSPI(machine.SPI):
    def __init__(self, baudrate=500000, polarity=0, phase=0, sck=None, mosi=None, miso=None, **kw):
        machine.SPI.__init__(self, -1, baudrate, polarity, phase)


def freq(f=None):
    return 240000000


def reset_cause():
    return 1


def idle():
    pass
