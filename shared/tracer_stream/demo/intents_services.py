"""Order, travel and account intents of the demo workload, most frequent first.

Rows are ``(label, domain, description, templates)``; templates use the slots of
:data:`tracer_stream.demo.catalog.SLOTS`. Close neighbours (password reset vs login problem,
return vs refund) are deliberate.
"""

from __future__ import annotations

from tracer_stream.demo.intents_finance import IntentRow

SERVICES: tuple[IntentRow, ...] = (
    ("track_order", "orders", "where a placed order is", (
        "where is my order {order_id}",
        "track my package please",
        "when will my {item} arrive",
        "my {item} still hasn't been delivered",
        "has order {order_id} shipped yet",
        "what's the delivery status of my {item}",
        "i ordered {item} {date} and it's not here",
    )),
    ("reset_password", "account", "the customer forgot the password and wants a new one", (
        "i forgot my password",
        "reset my password please",
        "how do i change my password",
        "send me a password reset link",
        "i need a new password for the app",
    )),
    ("book_flight", "travel", "booking a flight", (
        "book a flight from {city} to {city2} {date}",
        "i need a plane ticket to {city2}",
        "find me flights to {city2} for {date}",
        "cheapest flight from {city} to {city2}",
        "can you get me on a flight to {city2} next week",
        "i want to fly to {city2}",
    )),
    ("return_item", "orders", "sending a purchased item back", (
        "how do i return the {item}",
        "i want to send back my {item}",
        "can i return {item} i bought {date}",
        "what's your return policy for {item}",
        "print a return label for order {order_id}",
    )),
    ("login_problem", "account", "the customer cannot log in, not a forgotten password", (
        "i can't log in",
        "the app says my login is invalid",
        "it keeps logging me out of my account",
        "login page won't load on my {device}",
        "my account is locked",
        "i can't sign in on my {device}",
    )),
    ("flight_status", "travel", "whether a flight is on time", (
        "is my flight to {city2} on time",
        "has flight {flight} been delayed",
        "what's the status of flight {flight}",
        "is {flight} leaving on time {date}",
        "when does my flight to {city2} depart",
    )),
    ("refund_status", "orders", "where a refund for an order is", (
        "where's my refund for the {item}",
        "i returned the {item} {date} and still no refund",
        "when will i get my money back for order {order_id}",
        "refund for {order_id} hasn't arrived",
        "how long do refunds take",
    )),
    ("cancel_order", "orders", "cancelling an order that has not been delivered", (
        "cancel order {order_id}",
        "i don't want the {item} anymore, cancel it",
        "please cancel my last order",
        "can i still cancel order {order_id}",
        "stop my order for the {item}",
    )),
    ("book_hotel", "travel", "booking a hotel room", (
        "book a hotel in {city2} for {nights}",
        "i need a room in {city} {date}",
        "find me a hotel near the center of {city2}",
        "reserve a double room in {city2} for {nights}",
        "any cheap hotels in {city} for {nights}",
    )),
    ("update_details", "account", "changing personal details on the account", (
        "change my {detail}",
        "update my {detail} please",
        "i moved, how do i update my {detail}",
        "i want to use {email} on my account",
        "my {detail} is wrong on my profile",
    )),
    ("damaged_item", "orders", "an item arrived broken", (
        "my {item} arrived broken",
        "the {item} was damaged in shipping",
        "the box was crushed and the {item} is cracked",
        "{item} from order {order_id} came damaged",
    )),
    ("cancel_flight", "travel", "cancelling a booked flight", (
        "cancel my flight to {city2}",
        "i need to cancel flight {flight}",
        "how do i cancel my plane ticket",
        "can i get a refund if i cancel my flight {date}",
    )),
    ("two_factor", "account", "verification codes and two-factor authentication", (
        "i'm not getting the verification code",
        "set up two factor authentication",
        "the sms code never arrives on my {device}",
        "how do i turn on 2fa",
        "my authenticator app stopped working on my {device}",
    )),
    ("wrong_item", "orders", "the delivered item is not what was ordered", (
        "i received the wrong item",
        "i ordered {item} but got something else",
        "this isn't what i ordered in {order_id}",
        "you sent me the wrong size of {item}",
    )),
    ("baggage_lost", "travel", "luggage lost by an airline", (
        "the airline lost my luggage",
        "my bag didn't arrive in {city2}",
        "my suitcase is missing after flight {flight}",
        "where is my checked bag",
    )),
    ("change_address", "orders", "changing the delivery address of an order", (
        "change the delivery address for order {order_id}",
        "can you ship my {item} to a different address",
        "i gave the wrong address for my order",
        "deliver order {order_id} to my office instead",
    )),
    ("close_account", "account", "closing the account", (
        "close my account",
        "i want to delete my account",
        "how do i cancel my membership and close everything",
        "please shut down my account for good",
    )),
    ("rent_car", "travel", "renting a car", (
        "rent a car in {city2}",
        "i need a rental car at the airport in {city}",
        "how much is a car hire for {nights}",
        "book a car for {nights} in {city2}",
    )),
    ("cancel_hotel", "travel", "cancelling a hotel booking", (
        "cancel my hotel reservation in {city2}",
        "i don't need the room in {city} anymore",
        "how do i cancel my hotel booking",
    )),
    ("contact_human", "account", "the customer wants to talk to a person", (
        "let me talk to a human",
        "connect me with an agent",
        "i want to speak to a real person",
        "is there a phone number i can call",
    )),
    ("travel_visa", "travel", "visa requirements for a trip", (
        "do i need a visa for {country}",
        "visa requirements for traveling to {country}",
        "how long does a {country} visa take",
    )),
)
