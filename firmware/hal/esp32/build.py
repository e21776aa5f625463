# Board building for the real drivers (on demand: hal.board.build imports it and unloads
# it once the hardware exists). build() turns a board dict that hal.board.load() validated
# into hal.Hardware; it does no validation itself and holds nothing after boot.
from compat import const
from hal import Connector, Hardware

_SPI_BAUD = const(1000000)  # MFRC522 SPI clock when the board file names none
_UART_RXBUF = const(512)  # UART ring buffer: two maximum Modbus frames
# Meter model (board file "model") -> (module under hal/esp32, class): only the model in use is imported.
METER_MODELS = {"sdm120": ("meters", "Sdm120"), "sdm630": ("meter_sdm630", "Sdm630"), "abb_b23": ("meter_abb_b23", "AbbB23")}


def _items(board, key):
    v = board.get(key)
    if v is None or isinstance(v, list):
        return v
    return [v]


def build_reader(board):
    from hal.esp32.mfrc522 import Mfrc522
    import machine
    r = board["reader"]
    if board["kind"] == "esp8266":  # HSPI on its fixed pins (GPIO14/13/12)
        spi = machine.SPI(1, baudrate=r.get("baudrate", _SPI_BAUD), polarity=0, phase=0)
    else:
        spi = machine.SPI(r["spi"], baudrate=r.get("baudrate", _SPI_BAUD), polarity=0, phase=0,
                          sck=machine.Pin(r["sck"]), mosi=machine.Pin(r["mosi"]), miso=machine.Pin(r["miso"]))
    return Mfrc522(spi, r["cs"], r.get("rst"))


def build_bus(board):
    from hal.esp32.modbus import ModbusRtu
    import machine
    b = board["rs485"]
    baud = b["baud"]
    uart = machine.UART(b["uart"], baudrate=baud, bits=8, parity=b.get("parity"), stop=b.get("stop", 1),
                        tx=b["tx"], rx=b["rx"], timeout=0, timeout_char=0, rxbuf=_UART_RXBUF)
    return ModbusRtu(uart, b.get("de_pin"), baud)


def meter_class(model):
    """The driver class of a board file's meter model."""
    mod, cls = METER_MODELS[model]
    return getattr(__import__("hal.esp32." + mod, None, None, (cls,)), cls)


def build(board):
    from hal.esp32.pilot import Pilot
    from hal.esp32.relay import Relay, SETTLE_MS
    from hal.esp32 import reset
    pilots = _items(board, "pilot")
    relays = _items(board, "relay")
    meters = _items(board, "meter")
    full_scale = board.get("adc_full_scale_mv") if board["kind"] == "esp8266" else None
    bus = build_bus(board) if meters else None
    connectors = []
    for i in range(board["connectors"]):
        p = pilots[i]
        r = relays[i]
        pilot = Pilot(p["pwm_pin"], p["adc_pin"], p["thresholds_mv"], adc_full_scale_mv=full_scale)
        relay = Relay(r["pin"], r.get("feedback_pin"), r.get("feedback_active", 1),
                      r.get("settle_ms", SETTLE_MS))
        meter = None
        if meters:
            m = meters[i]
            meter = meter_class(m["model"])(bus, m.get("address", 1), m.get("phases"))
        connectors.append(Connector(pilot, relay, meter, board["max_current_a"]))
    reader = build_reader(board) if board.get("reader") else None
    watchdog = None
    wd = board.get("watchdog")
    if wd:
        from hal.esp32.watchdog import Watchdog, TIMEOUT_MS, LOOPS
        watchdog = Watchdog(wd.get("timeout_ms", TIMEOUT_MS), wd.get("loops", LOOPS))
    hw = Hardware(connectors, reader, watchdog, board)
    hw.reset = reset
    import machine
    hw.chip_id = machine.unique_id()
    return hw
