import math

from cohortpress_rates import poisson_rate


def test_rate_and_exact_interval():
    # 10 events in 200 person-years: 0.05 with the Garwood interval (R: poisson.test(10, 200)$conf.int).
    rate, low, high = poisson_rate(10, 200.0)
    assert rate == 0.05
    assert math.isclose(low, 0.02397694348, rel_tol=1e-6)
    assert math.isclose(high, 0.09195178021, rel_tol=1e-6)


def test_no_events_has_zero_lower_bound():
    rate, low, high = poisson_rate(0, 50.0)
    assert rate == 0 and low == 0
    assert math.isclose(high, 3.688879454 / 50.0, rel_tol=1e-6)
