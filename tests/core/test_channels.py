"""The one channel vocabulary (relance.core.channels)."""

import pytest

from relance.core import channels
from relance.core.channels import Channel


def test_every_list_names_known_channels_as_plain_strings():
    for names in (
        channels.STEP_CHANNELS,
        channels.DELIVERY_CHANNELS,
        channels.PREFERRED_CHANNELS,
        channels.OPT_OUT_CHANNELS,
    ):
        assert all(type(name) is str and name in set(Channel) for name in names)
    assert "phone" not in set(Channel)


def test_a_call_is_addressed_to_the_phone_and_ruled_by_its_opt_out():
    assert channels.address_field("call") == channels.address_field("sms") == "phone"
    assert channels.opt_out_field("call") == "opt_out_phone"
    assert channels.opt_out_field("portal") == channels.opt_out_field("pigeon") == ""


def test_a_registered_letter_is_a_letter_for_delivery_and_opt_out():
    assert channels.delivered_as("registered_letter") == "letter"
    assert channels.opt_out_channel("registered_letter") == "letter"
    assert channels.opt_out_field("registered_letter") == "opt_out_letter"


def test_the_legacy_phone_is_read_as_a_call_and_nothing_else_is_guessed():
    assert channels.channel_parse(" Phone ") == Channel.CALL
    assert channels.channel_parse("call") == Channel.CALL
    with pytest.raises(ValueError, match="unknown channel 'pigeon'"):
        channels.channel_parse("pigeon")
