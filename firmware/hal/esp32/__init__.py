# Real drivers for ESP32 (and the reduced ESP8266 board): pilot, relay, MFRC522,
# Modbus meters, watchdog, WiFi, NTP, one module each. The board is built by the
# on-demand hal.esp32.build (unloaded after boot); only reset() lives here.


def reset(kind):
    """OCPP Reset on the device: the contactors are open (the core stopped every
    transaction first); Hard restarts the chip, Soft restarts the interpreter."""
    import machine
    if kind == "Soft" and hasattr(machine, "soft_reset"):
        machine.soft_reset()
    machine.reset()
