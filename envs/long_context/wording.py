"""The wording of the semantic long-context families: what items say, and the labels it carries.

Review cores carry a sentiment and ticket cores a category; about half of each are traps that use
the other label's words ("I was braced for disappointment, but ...", "I paid for express shipping
and it still took a week"). Asides carry no label. No text names its label. Templates take the
slots ``{item}``, ``{duration}``, ``{person}``, ``{day}``, ``{room}`` and ``{month}``.
"""

from __future__ import annotations

__all__ = ["PRODUCTS", "MONTHS", "PEOPLE", "DURATIONS", "DAYS", "ROOMS", "POSITIVE", "NEGATIVE", "REVIEW_ASIDES",
           "CATEGORIES", "TICKETS", "TICKET_ASIDES", "LABEL_SETS"]

PRODUCTS = ["kettle", "lamp", "blender", "backpack", "headphones", "toaster", "umbrella", "desk chair",
             "water bottle", "alarm clock"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
PEOPLE = ["sister", "neighbour", "flatmate", "dad", "grandmother", "colleague", "son", "partner"]
DURATIONS = ["a week", "two weeks", "a month", "three months", "half a year", "a few days", "a fortnight"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ROOMS = ["kitchen", "office", "spare room", "garage", "living room", "studio"]

# ---------------------------------------------------------------------------- reviews

# Cores carry the label. About half are "traps": they use words of the other polarity.
POSITIVE = [
    "It does exactly what I hoped, and then some.",
    "I was braced for disappointment, but it turned out to be a lovely {item}.",
    "Not bad at all; honestly it beats the one I had before.",
    "Can't fault it.",
    "No complaints after {duration} of daily use.",
    "I never expected a {item} to make me this happy.",
    "My {person} keeps borrowing it, which says it all.",
    "Worth every penny.",
    "The reviews calling it flimsy must have got a bad batch; mine is solid.",
    "It hasn't let me down once.",
    "I would not hesitate to buy it again.",
    "Zero regrets.",
    "It feels far more expensive than it was.",
    "I didn't think it would last, but {duration} on it still works like new.",
    "I sent my old one back the same day because this is so much nicer to use.",
    "Honestly there is nothing to dislike.",
    "Never had a single problem with it.",
    "I was sceptical, and I was wrong: it is brilliant.",
    "It quietly does its job every day without any fuss.",
    "I've stopped looking at alternatives; this is the one.",
]
NEGATIVE = [
    "I really wanted to love it.",
    "Great box, shame about what was inside.",
    "It would be perfect if it actually worked.",
    "After {duration} it simply gave up.",
    "Not worth the money, not even close.",
    "The only nice thing I can say is that it arrived quickly.",
    "Five stars for the packaging, none for the {item}.",
    "I can't recommend it to anyone.",
    "It's fine if you enjoy being let down.",
    "My {person} laughed when it fell apart.",
    "I wouldn't buy it again even at half the price.",
    "Looks great in the photos; in person, not so much.",
    "It stopped working before I'd even got used to it.",
    "Save your money.",
    "Back in the box it goes.",
    "Perfectly useless.",
    "I expected better, frankly.",
    "Sadly it does none of what it promises.",
    "Excellent, if your goal is to waste an afternoon.",
    "I keep hoping it will improve; it never does.",
]
REVIEW_ASIDES = [
    "Bought it for my {person}'s birthday.",
    "It arrived on a {day}.",
    "I mostly use it in the {room}.",
    "This is the second {item} I've owned.",
    "A friend had a bad experience with another brand.",
    "The colour is a bit darker than in the pictures.",
    "I ordered it during the {month} sale.",
    "My old one was great for ten years before it finally died.",
    "I don't usually write reviews.",
    "Delivery took {duration}.",
]

# ---------------------------------------------------------------------------- tickets

CATEGORIES = {
    "billing": "being charged the wrong amount or other payment problems",
    "access": "being unable to sign in to or get into their account",
    "delivery": "an order that arrived late, damaged in transit, or not at all",
    "malfunction": "a product that does not work properly",
}
TICKETS = {
    "billing": [
        "The {item} arrived fine and works, but my card was taken twice for it.",
        "I cancelled in {month} and can still sign in to my account, yet the money keeps leaving it.",
        "The parcel came on time, the box was fine, the {item} works; the amount taken is twice the listed one.",
        "Your site showed one total at checkout and my bank shows another.",
        "I was refunded only half of what I was owed for the {item} I sent back.",
        "I never chose the premium plan, but it appears on my statement every month.",
        "I logged in to check my orders and found I'd been charged for three.",
        "Two parcels, two boxes, but three payments taken for them.",
    ],
    "access": [
        "The password reset email never arrives, so I'm stuck at the sign-in page.",
        "I paid for the yearly plan and now it won't let me in at all.",
        "The order emails go to an address I can no longer open, and I can't get past the login screen to "
        "change it.",
        "After too many attempts the page just spins and refuses me.",
        "Since I changed my phone number the texted codes go nowhere and I can't get in.",
        "My profile was suspended without warning and now I can't see my orders or invoices.",
        "The app throws me out every time I open it and rejects my details.",
        "Each one-time number you send has expired by the time the text lands.",
    ],
    "delivery": [
        "The tracking hasn't moved for nine days.",
        "I paid for express shipping and it still took {duration}.",
        "It went to my old address even though I updated it in my account.",
        "Half of what I paid for never turned up.",
        "The app says it was handed over on {day}, but nothing ever reached my door.",
        "The {item} came with a cracked screen because the courier obviously threw it.",
        "Still waiting for it; the code you gave me to follow it shows nothing.",
        "It went back to your warehouse instead of reaching me.",
    ],
    "malfunction": [
        "The {item} switches itself off after a few minutes.",
        "It arrived quickly but makes a grinding noise and then stops.",
        "It won't charge no matter which cable I use.",
        "Since the update the app closes itself whenever I sign in.",
        "The lid doesn't close properly and water gets all over the counter.",
        "I love the design, but the power light blinks and nothing happens.",
        "It gets far too hot and smells of burning plastic.",
        "Worth the price if it worked; it goes dead after a minute.",
    ],
}
TICKET_ASIDES = [
    "Hi,", "Hello team,", "Second time writing about this.", "Please help.", "I'd like this sorted quickly.",
    "Can someone call me back?", "I've been a customer for years.", "Order number on request.",
    "This is really frustrating.", "Thanks in advance.", "I love your shop, but this needs fixing.",
    "Nothing else to add.",
]

LABEL_SETS = {"sentiment": ("positive", "negative"), "category": tuple(CATEGORIES)}
