# Pilot driver (hal/esp32/pilot.py) against the fake PWM/ADC and the pilot front
# end model: duty per IEC 61851, state classification A-F, debounce, diode check,
# calibration. Runs on CPython and MicroPython.
import sys

_fakes = __file__.rsplit("/", 2)[0] + "/fakes"
if _fakes not in sys.path:
    sys.path.insert(0, _fakes)

import machine
from hal_rig import pilot_rig, settle, PWM_PIN, DEVKITC_THRESHOLDS
from pilot_model import EvModel, PilotFrontEnd
from hal.esp32.pilot import Pilot, PilotError, duty_u16_for, classify, DEBOUNCE_SAMPLES, STOP_DEBOUNCE_SAMPLES

# IEC 61851-1 table: current -> duty percent.
IEC_DUTY = ((6, 10.0), (10, 16.667), (16, 26.667), (32, 53.333), (51, 85.0), (63, 89.2), (80, 96.0))


def test_offer_sets_iec_duty_on_the_pwm():
    p, ev, fe = pilot_rig()
    pwm = machine.pwm_on(PWM_PIN)
    assert pwm.freq() == 1000
    for amps, pct in IEC_DUTY:
        p.offer(amps)
        assert abs(pwm.duty_u16() - pct * 655.35) <= 1, (amps, pwm.duty_u16())
        assert p.amps == amps


def test_duty_rounding_is_round_half_up_of_percent_times_655_35():
    assert duty_u16_for(6) == 6554      # 10 % x 655.35 = 6553.5
    assert duty_u16_for(51) == 55705    # 85 % -> 55704.75
    assert duty_u16_for(80) == 62914    # 96 % -> 62913.6


def test_below_6a_is_no_offer():
    p, ev, fe = pilot_rig()
    pwm = machine.pwm_on(PWM_PIN)
    p.offer(16)
    for amps in (5.9, 5, 0, None):
        p.offer(amps)
        assert pwm.duty_u16() == 65535
        assert p.amps == 0


def test_above_80a_is_clamped_and_bad_input_is_a_named_error():
    p, ev, fe = pilot_rig()
    p.offer(100)
    assert p.amps == 80 and machine.pwm_on(PWM_PIN).duty_u16() == duty_u16_for(80)
    for bad in ("16", -1, [16]):
        try:
            p.offer(bad)
            assert False, bad
        except PilotError as e:
            assert "amps" in str(e)


def test_disable_is_constant_minus_12v():
    p, ev, fe = pilot_rig()
    p.offer(16)
    p.disable()
    assert machine.pwm_on(PWM_PIN).duty_u16() == 0 and p.amps == 0


def test_each_state_is_classified():
    p, ev, fe = pilot_rig()
    for amps in (0, 6, 16, 80):
        p.offer(amps)
        for s in ("A", "B", "C", "D", "E", "B", "A"):
            ev.state = s
            state, diode_ok = settle(p)
            assert state == s, (amps, s, state, p.high_mv)
            assert diode_ok


def test_state_f_when_disabled():
    p, ev, fe = pilot_rig("B")
    settle(p)
    p.disable()
    assert settle(p) == ("F", True)
    p.offer(16)
    assert settle(p)[0] == "B"


def test_debounce_needs_consecutive_samples():
    p, ev, fe = pilot_rig("B")
    p.offer(16)
    settle(p)
    ev.state = "C"
    for i in range(DEBOUNCE_SAMPLES - 1):
        assert p.sample()[0] == "B"
    assert p.sample()[0] == "C"
    # Unplugging opens the contactor: fewer samples.
    ev.state = "A"
    for i in range(STOP_DEBOUNCE_SAMPLES - 1):
        assert p.sample()[0] == "C"
    assert p.sample()[0] == "A"


def test_single_glitches_are_not_reported():
    p, ev, fe = pilot_rig("B")
    p.offer(16)
    settle(p)
    seen = []
    for s in ("C", "B", "C", "C", "B", "A", "B", "D", "B"):
        ev.state = s
        seen.append(p.sample()[0])
    assert seen == ["B"] * 9, seen


def test_noise_near_nominal_levels_classifies_right():
    p, ev, fe = pilot_rig("A", noise_mv=120)
    p.offer(32)
    for s in ("A", "B", "C", "D", "E"):
        ev.state = s
        states = [p.sample()[0] for _ in range(8)][3:]
        assert states == [s] * 5, (s, states)


def test_noise_across_a_threshold_does_not_chatter():
    # CP level right at the B/C boundary with ADC noise: the raw class flickers,
    # the reported state changes only after DEBOUNCE_SAMPLES agreeing samples.
    p, ev, fe = pilot_rig("B", noise_mv=60)
    p.offer(16)
    settle(p)
    # the max of ~27 high reads with +-60 mV noise lands near level + 50 mV
    ev.high_v = (DEVKITC_THRESHOLDS["B"] - 50 - fe.offset_mv) / fe.gain_mv_per_v
    raw = []
    reported = []
    for _ in range(40):
        reported.append(p.sample()[0])
        raw.append(classify(p.high_mv, DEVKITC_THRESHOLDS))
    assert "B" in raw and "C" in raw, raw
    changes = sum(1 for i in range(1, 40) if reported[i] != reported[i - 1])
    raw_changes = sum(1 for i in range(1, 40) if raw[i] != raw[i - 1])
    assert changes < raw_changes, (changes, raw_changes)
    # every reported change was backed by DEBOUNCE_SAMPLES raw samples of that state
    for i in range(1, 40):
        if reported[i] != reported[i - 1]:
            assert raw[i - DEBOUNCE_SAMPLES + 1:i + 1] == [reported[i]] * DEBOUNCE_SAMPLES


def test_missing_diode_is_detected_while_pwm_runs():
    p, ev, fe = pilot_rig("C", diode=False)
    p.offer(16)
    state, diode_ok = settle(p)
    assert state == "C" and diode_ok is False
    ev.diode = True
    assert settle(p) == ("C", True)


def test_diode_seen_even_at_96_percent_duty():
    p, ev, fe = pilot_rig("C")
    p.offer(80)
    assert settle(p) == ("C", True)
    assert p.low_mv < DEVKITC_THRESHOLDS["diode"]
    ev.diode = False
    assert settle(p) == ("C", False)


def test_one_missed_low_plateau_does_not_fail_the_diode():
    p, ev, fe = pilot_rig("B", diode=False)
    p.offer(16)
    state, ok = p.sample()
    assert ok  # one burst without the -12 V plateau is not yet a fault
    state, ok = p.sample()
    assert not ok


def test_no_diode_check_without_pwm():
    p, ev, fe = pilot_rig("B", diode=False)
    p.offer(0)
    assert settle(p) == ("B", True)


def test_short_circuit_is_e():
    p, ev, fe = pilot_rig("C")
    p.offer(16)
    settle(p)
    ev.state = "E"
    assert settle(p)[0] == "E"
    assert abs(p.high_mv - fe.cp_mv(0)) < 5 and abs(p.low_mv - fe.cp_mv(0)) < 5


def test_bad_thresholds_are_a_named_error():
    machine.reset_fakes()
    t = dict(DEVKITC_THRESHOLDS)
    del t["diode"]
    try:
        Pilot(25, 36, t)
        assert False
    except PilotError as e:
        assert "diode" in str(e)


def test_calibrate_suggests_midpoints():
    p, ev, fe = pilot_rig("A")
    p.offer(0)
    prompts = []
    lines = []

    def wait(prompt):
        prompts.append(prompt)
        ev.state = prompt.split("state ")[1][0]

    t = p.calibrate(wait=wait, out=lines.append)
    assert [x.split("state ")[1][0] for x in prompts] == ["A", "B", "C"]
    assert machine.pwm_on(PWM_PIN).duty_u16() == 65535  # offer restored
    # The A plateau saturates the ADC at 3.1 V; B/C midpoints follow the front end.
    assert abs(t["B"] - (fe.cp_mv(9) + fe.cp_mv(6)) / 2) <= 2, t
    assert abs(t["diode"] - (fe.cp_mv(-12) + (fe.cp_mv(9) - fe.cp_mv(6)) / 2)) <= 80, t
    assert "suggested" in lines[-1]
    assert "hal.esp32.pilot_cal" not in sys.modules  # loaded for the call only
    # The suggestion classifies every state right.
    p2 = Pilot(25, 36, t)
    p2.offer(16)
    for s in ("A", "B", "C", "D", "E"):
        ev.state = s
        assert settle(p2)[0] == s, (s, t)


def test_suggest_thresholds_rejects_nonsense():
    from hal.esp32.pilot_cal import suggest_thresholds
    try:
        suggest_thresholds(1000, 2000, 3000, 200)
        assert False
    except PilotError:
        pass


def test_esp8266_adc_read_u16_path():
    machine.reset_fakes()
    ev = EvModel("A")
    PilotFrontEnd(ev, 5, 0, offset_mv=500, gain_mv_per_v=40)
    t = {"A": 920, "B": 800, "C": 680, "D": 560, "E": 260, "diode": 80}
    p = Pilot(5, 0, t, adc_full_scale_mv=1000)
    p.offer(16)
    for s in ("A", "B", "C", "D", "E"):
        ev.state = s
        assert settle(p) == (s, True)
    ev.state, ev.diode = "C", False
    assert settle(p) == ("C", False)
