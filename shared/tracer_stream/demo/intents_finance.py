"""Banking and card intents of the demo workload, most frequent first within the group.

Rows are ``(label, domain, description, templates)``; templates use the slots of
:data:`tracer_stream.demo.catalog.SLOTS`. Some neighbours (lost/stolen card, pending/failed
transfer, unknown/double charge) are deliberately close, as in real intent sets.
"""

from __future__ import annotations

IntentRow = tuple[str, str, str, tuple[str, ...]]

FINANCE: tuple[IntentRow, ...] = (
    ("check_balance", "banking", "the customer asks how much money is in an account", (
        "what's my current balance",
        "how much money do i have in my {account}",
        "show me the balance of my {account}",
        "balance on my {account} please",
        "do i have enough in my {account} to pay {amount}",
        "how much is left in my {account}",
        "can you check my {account} balance",
        "what's the available balance right now",
    )),
    ("transfer_money", "banking", "the customer wants to send money to someone", (
        "send {amount} to {person}",
        "transfer {amount} from my {account} to my {account2}",
        "i want to wire {amount} to {person}",
        "move {amount} into my {account2}",
        "pay {person} {amount} from my {account}",
        "how do i make a bank transfer to {person}",
        "i need to send money to {person} today",
    )),
    ("card_declined", "cards", "a card payment was refused", (
        "my {card} was declined at {merchant}",
        "why was my {card} refused",
        "the payment with my {card} didn't work at {merchant}",
        "my {card} keeps getting rejected",
        "card declined when i tried to pay {amount}",
        "{merchant} won't accept my {card}, it says declined",
        "why does my {card} get declined online",
    )),
    ("transfer_pending", "banking", "a transfer was sent but has not arrived yet", (
        "my transfer to {person} is still pending",
        "why hasn't my transfer of {amount} arrived yet",
        "the money i sent {date} still hasn't reached {person}",
        "how long does a transfer take to arrive",
        "{person} says they haven't received my {amount} yet",
        "transfer still showing as processing since {date}",
    )),
    ("card_lost", "cards", "the customer lost a card", (
        "i lost my {card}",
        "i can't find my {card} anywhere",
        "i think i left my {card} at {place}",
        "my {card} is missing",
        "help, i misplaced my {card}",
        "i dropped my {card} somewhere {date}",
    )),
    ("unrecognized_charge", "banking", "a payment on the statement the customer did not make", (
        "there's a charge from {merchant} i don't recognize",
        "i didn't make this payment of {amount}",
        "unknown transaction of {amount} on my statement",
        "who is {merchant} and why did they charge me",
        "someone used my {card} for {amount} at {merchant}",
        "i see a payment to {merchant} that wasn't me",
    )),
    ("card_stolen", "cards", "a card was stolen", (
        "my {card} was stolen",
        "someone stole my wallet with my {card} in it",
        "i was robbed and they took my {card}",
        "my {card} got stolen at {place}",
        "a thief took my {card}, please block it",
        "pickpocketed at {place}, my {card} is gone",
    )),
    ("exchange_rate", "banking", "the customer asks about currency exchange rates", (
        "what's the exchange rate for {currency}",
        "how much is {amount} in {currency}",
        "what rate do you use to convert to {currency}",
        "is the {currency} rate better today",
        "how many {currency} will i get for {amount}",
    )),
    ("activate_card", "cards", "the customer wants to activate a new card", (
        "how do i activate my new {card}",
        "i just got my {card} in the mail, how do i activate it",
        "activate my {card}",
        "my new {card} needs to be turned on",
        "what's the activation process for the {card}",
    )),
    ("top_up", "banking", "the customer wants to add money to the account", (
        "how do i top up my account",
        "add {amount} to my account with my {card}",
        "can i top up with apple pay",
        "i want to load {amount} onto my {account}",
        "what's the fastest way to top up",
    )),
    ("change_pin", "cards", "the customer wants to change or recover a card PIN", (
        "how do i change my pin",
        "i want a new pin for my {card}",
        "reset the pin on my {card}",
        "i forgot my {card} pin",
        "can i pick my own pin for the {card}",
    )),
    ("charged_twice", "banking", "the same payment was taken twice", (
        "i was charged twice at {merchant}",
        "double payment of {amount} to {merchant}",
        "the same transaction appears two times",
        "{merchant} took the money twice",
        "why was i billed {amount} two times",
    )),
    ("replace_card", "cards", "the customer needs a new or replacement card", (
        "i need a new {card}",
        "can i order a replacement {card}",
        "my {card} is damaged, send me a new one",
        "my {card} expires {date}, how do i get a new one",
        "the chip on my {card} is broken",
    )),
    ("transfer_failed", "banking", "a transfer failed or was returned", (
        "my transfer to {person} failed",
        "the transfer of {amount} was rejected",
        "why did my bank transfer bounce back",
        "i got an error when sending {amount} to {person}",
        "the payment to {person} was returned to my account",
    )),
    ("cash_withdrawal_issue", "cards", "an ATM withdrawal went wrong", (
        "the atm didn't give me my cash but took the money",
        "i withdrew {amount} but got nothing",
        "atm at {place} kept my money",
        "wrong amount of cash came out of the atm",
        "my account shows a withdrawal of {amount} i never got",
    )),
    ("direct_debit", "banking", "setting up or cancelling a direct debit", (
        "set up a direct debit for {bill}",
        "cancel my direct debit to {merchant}",
        "how do direct debits work",
        "i want {bill} to be paid automatically every month",
        "stop the monthly payment to {merchant}",
    )),
    ("foreign_fee", "cards", "a fee charged for foreign currency payments", (
        "why was i charged a fee for paying in {currency}",
        "is there a fee for card payments in {currency}",
        "what do you charge for using my {card} abroad",
        "extra fee on my {merchant} purchase in {currency}",
    )),
    ("loan_inquiry", "banking", "the customer asks about borrowing money", (
        "can i get a loan of {amount}",
        "what's the interest rate on a personal loan",
        "i want to borrow {amount}",
        "am i eligible for a loan",
        "how do i apply for a car loan",
    )),
    ("savings_interest", "banking", "interest on savings", (
        "what's the interest rate on my savings",
        "how much interest does the {account} pay",
        "when is interest added to my {account2}",
        "is there a better savings rate",
    )),
)
