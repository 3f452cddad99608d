"""The tests' ROS domains stay where Fast DDS can map them to ports, however many contexts a run opens."""
from ros_helpers import FIRST_DOMAIN, LAST_DOMAIN, fresh_domain_id


def test_domains_wrap_inside_the_mappable_range():
    span = LAST_DOMAIN - FIRST_DOMAIN + 1
    drawn = [fresh_domain_id() for _ in range(3 * span)]
    assert LAST_DOMAIN <= 232  # 233 and above: "Calculated port number is too high"
    assert all(FIRST_DOMAIN <= d <= LAST_DOMAIN for d in drawn)
    assert len(set(drawn[:span])) == span  # no domain comes back before every other one was used
