"""Generated requests for the account-style suites: posting (Twitter), messaging and tickets
(logging in first when the simulated user is not logged in yet)."""

from __future__ import annotations

from lfmgym.envs.bfcl_multi_turn.plan import Intent, Plan, Rejected
from lfmgym.envs.bfcl_multi_turn.worlds import PEOPLE, WORDS


def _tw_login(p: Plan) -> str:
    tw = p.suite("TwitterAPI")
    if tw.authenticated:
        return ""
    p.call("authenticate_twitter", username=tw.username, password=tw.password)
    return f" My username is {tw.username} and my password is {tw.password}."


def tw_post(p: Plan) -> Intent:
    login = _tw_login(p)
    w = p.rng.choice(WORDS)
    content, tags = f"Finished the {w} today!", [f"#{w}", p.rng.choice(("#work", "#progress", "#team"))]
    p.call("post_tweet", content=content, tags=tags)
    return Intent(f"Post a tweet saying '{content}' with the tags {' and '.join(tags)}.{login}", p.calls,
                  (f"Post a tweet with the tags {' and '.join(tags)}.{login}", f"The tweet should say '{content}'."))


def tw_post_mention(p: Plan) -> Intent:
    login = _tw_login(p)
    friend = "@" + p.rng.choice(PEOPLE)
    content = f"Great {p.rng.choice(WORDS)} session with {friend}."
    p.call("post_tweet", content=content, tags=[], mentions=[friend])
    return Intent(f"Tweet '{content}' and mention {friend} in it (no tags).{login}", p.calls)


def tw_comment(p: Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    if not tw.tweets:
        raise Rejected("no tweet")
    login = _tw_login(p)
    tweet_id = p.rng.choice(list(tw.tweets))
    text = p.rng.choice(("Nice work!", "Thanks for sharing.", "Looking forward to it."))
    p.call("comment", tweet_id=tweet_id, comment_content=text)
    return Intent(f"Comment '{text}' on tweet {tweet_id}.{login}", p.calls)


def tw_follow(p: Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    options = [u for u in PEOPLE if u not in tw.following_list]
    login = _tw_login(p)
    user = p.rng.choice(options)
    p.call("follow_user", username_to_follow=user)
    return Intent(f"Follow {user} on Twitter.{login}", p.calls)


def _msg_login(p: Plan) -> str:
    msg = p.suite("MessageAPI")
    if msg.current_user:
        return ""
    user_id = "USR001"
    p.call("message_login", user_id=user_id)
    return f" Log in as {user_id} first."


def msg_send(p: Plan) -> Intent:
    msg = p.suite("MessageAPI")
    login = _msg_login(p)
    name = p.rng.choice([n for n, i in msg.user_map.items() if i != msg.current_user])
    text = f"The {p.rng.choice(WORDS)} is ready."
    receiver = p.call("get_user_id", user=name)["user_id"]
    p.call("send_message", receiver_id=receiver, message=text)
    return Intent(f"Send '{text}' to {name} (look up {name}'s user id).{login}", p.calls,
                  (f"Send a message to {name} (look up {name}'s user id).{login}", f"The message is '{text}'."))


def msg_add_contact(p: Plan) -> Intent:
    msg = p.suite("MessageAPI")
    name = p.rng.choice([n for n in ("Hana", "Igor", "Jade", "Kofi", "Lena") if n not in msg.user_map])
    p.call("add_contact", user_name=name)
    return Intent(f"Add {name} to my messaging contacts.", p.calls)


def msg_search(p: Plan) -> Intent:
    login = _msg_login(p)
    word = p.rng.choice(WORDS)
    p.call("search_messages", keyword=word)
    return Intent(f"Search my messages for '{word}'.{login}", p.calls)


def _ticket_login(p: Plan) -> str:
    t = p.suite("TicketAPI")
    if t.current_user:
        return ""
    user = t.ticket_queue[0]["created_by"] if t.ticket_queue else p.rng.choice(PEOPLE)
    password = f"{user}-{p.rng.randint(100, 999)}"
    p.call("ticket_login", username=user, password=password)
    return f" Log in to the ticket system as {user} with password {password}."


def tk_create(p: Plan) -> Intent:
    login = _ticket_login(p)
    w = p.rng.choice(WORDS)
    title, desc, prio = f"{w.capitalize()} is blocked", f"The {w} cannot be finished without access.", p.rng.randint(1, 5)
    p.call("create_ticket", title=title, description=desc, priority=prio)
    return Intent(f"Open a ticket titled '{title}' with the description '{desc}' and priority {prio}.{login}", p.calls,
                  (f"Open a ticket titled '{title}' with the description '{desc}'.{login}", f"Give it priority {prio}."))


def _ticket(p: Plan, status_not: str) -> dict:
    options = [t for t in p.suite("TicketAPI").ticket_queue if t["status"] != status_not]
    if not options:
        raise Rejected("no ticket")
    return p.rng.choice(options)


def tk_close(p: Plan) -> Intent:
    ticket = _ticket(p, "Closed")
    p.call("close_ticket", ticket_id=ticket["id"])
    return Intent(f"Close ticket {ticket['id']}.", p.calls)


def tk_resolve(p: Plan) -> Intent:
    ticket = _ticket(p, "Resolved")
    text = p.rng.choice(("Restarted the service.", "Granted the missing access.", "Replaced the faulty cable."))
    p.call("resolve_ticket", ticket_id=ticket["id"], resolution=text)
    return Intent(f"Mark ticket {ticket['id']} as resolved with the resolution '{text}'.", p.calls,
                  (f"Mark ticket {ticket['id']} as resolved.", f"The resolution is '{text}'."))


def tk_priority(p: Plan) -> Intent:
    ticket = _ticket(p, "Closed")
    prio = p.rng.choice([x for x in range(1, 6) if x != ticket.get("priority")])
    p.call("edit_ticket", ticket_id=ticket["id"], updates={"priority": prio})
    return Intent(f"Change the priority of ticket {ticket['id']} to {prio}.", p.calls)


def tw_retweet(p: Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    mine = tw.retweets.get(tw.username, [])
    options = [i for i in tw.tweets if i not in mine]
    if not options:
        raise Rejected("nothing to retweet")
    login = _tw_login(p)
    tweet_id = p.rng.choice(options)
    p.call("retweet", tweet_id=tweet_id)
    return Intent(f"Retweet tweet {tweet_id}.{login}", p.calls)


def tw_comment_on_new(p: Plan) -> Intent:
    """Refers to a tweet posted earlier in this task by what it says, not by its id."""
    tw = p.suite("TwitterAPI")
    before = int(p.initial.get("TwitterAPI", {}).get("tweet_counter", 0))
    new = [t for i, t in tw.tweets.items() if i >= before]
    if not new:
        raise Rejected("no tweet posted in this task")
    tweet = new[-1]
    login = _tw_login(p)
    text = p.rng.choice(("Details in the thread below.", "More soon!", "Thanks everyone."))
    p.call("comment", tweet_id=tweet["id"], comment_content=text)
    return Intent(f"Add the comment '{text}' under the tweet I just posted.{login}", p.calls)


def tw_unfollow(p: Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    if not tw.following_list:
        raise Rejected("follows nobody")
    login = _tw_login(p)
    user = p.rng.choice(tw.following_list)
    p.call("unfollow_user", username_to_unfollow=user)
    return Intent(f"Unfollow {user}.{login}", p.calls)


def tw_stats(p: Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    p.call("get_user_stats", username=tw.username)
    return Intent(f"How many tweets, follows and retweets does {tw.username} have?", p.calls)


def msg_delete_last(p: Plan) -> Intent:
    msg = p.suite("MessageAPI")
    login = _msg_login(p)
    names = {i: n for n, i in msg.user_map.items()}
    receivers = [r for m in msg.inbox for r in m if r in names]
    if not receivers:
        raise Rejected("no message")
    receiver = p.rng.choice(receivers)
    p.call("get_user_id", user=names[receiver])
    p.call("delete_message", receiver_id=receiver)
    return Intent(f"Delete the last message I sent to {names[receiver]} (look up the user id).{login}", p.calls)


def msg_stats(p: Plan) -> Intent:
    login = _msg_login(p)
    p.call("get_message_stats")
    return Intent(f"How many messages have I sent, and to how many people?{login}", p.calls)


def tk_show(p: Plan) -> Intent:
    ticket = _ticket(p, "")
    p.call("get_ticket", ticket_id=ticket["id"])
    return Intent(f"Show me the details of ticket {ticket['id']}.", p.calls)


def tk_close_new(p: Plan) -> Intent:
    """Refers to the ticket opened earlier in this task, whose id only the tool result gave."""
    t = p.suite("TicketAPI")
    before = int(p.initial.get("TicketAPI", {}).get("ticket_counter", 1))
    new = [x for x in t.ticket_queue if x["id"] >= before and x["status"] != "Closed"]
    if not new:
        raise Rejected("no ticket opened in this task")
    p.call("close_ticket", ticket_id=new[-1]["id"])
    return Intent("The problem went away: close the ticket you just opened.", p.calls)


def tk_mine(p: Plan) -> Intent:
    login = _ticket_login(p)
    status = p.rng.choice(("Open", "In Progress"))
    p.call("get_user_tickets", status=status)
    return Intent(f"List my tickets with status '{status}'.{login}", p.calls)


def tw_search(p: Plan) -> Intent:
    word = p.rng.choice(WORDS)
    p.call("search_tweets", keyword=word)
    return Intent(f"Find tweets about '{word}'.", p.calls)


def tw_read_comments(p: Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    if not tw.tweets:
        raise Rejected("no tweet")
    tweet_id = p.rng.choice(list(tw.tweets))
    p.call("get_tweet", tweet_id=tweet_id)
    p.call("get_tweet_comments", tweet_id=tweet_id)
    return Intent(f"Show me tweet {tweet_id} and its comments.", p.calls)


def msg_sent(p: Plan) -> Intent:
    login = _msg_login(p)
    p.call("view_messages_sent")
    return Intent(f"Show me all the messages I have sent.{login}", p.calls)


def msg_users(p: Plan) -> Intent:
    p.call("list_users")
    return Intent("Who is in the messaging workspace?", p.calls)


INTENTS = {
    "TwitterAPI": (tw_post, tw_post_mention, tw_comment, tw_follow, tw_retweet, tw_comment_on_new, tw_unfollow,
                   tw_stats, tw_search, tw_read_comments),
    "MessageAPI": (msg_send, msg_add_contact, msg_search, msg_delete_last, msg_stats, msg_sent, msg_users),
    "TicketAPI": (tk_create, tk_close, tk_resolve, tk_priority, tk_show, tk_close_new, tk_mine),
}
