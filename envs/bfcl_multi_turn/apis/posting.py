"""``TwitterAPI``: posting, retweeting, commenting and following (BFCL's posting suite).

State compared by the checker: ``username``, ``password``, ``authenticated``, ``tweets`` (by
integer id), ``comments``, ``retweets``, ``following_list``, ``tweet_counter``.
"""

from __future__ import annotations

from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis.base import Suite

__all__ = ["TwitterAPI"]


def _login_error(action: str) -> dict[str, str]:
    return {"error": f"User not authenticated. Please authenticate before {action}."}


class TwitterAPI(Suite):
    name = "TwitterAPI"
    doc_file = "posting_api.json"
    defaults = {"username": "john", "password": "john123", "authenticated": False, "tweets": {}, "comments": {},
                "retweets": {}, "following_list": ["alice", "bob"], "tweet_counter": 0}

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        super()._load_scenario(scenario, long_context)
        self.tweets = {int(k): v for k, v in self.tweets.items()}

    def _missing(self, tweet_id: int) -> dict[str, str] | None:
        return None if tweet_id in self.tweets else {"error": f"Tweet with ID {tweet_id} not found."}

    def authenticate_twitter(self, username: str, password: str) -> dict[str, bool]:
        if username == self.username and password == self.password:
            self.authenticated = True
            return {"authentication_status": True}
        return {"authentication_status": False}

    def posting_get_login_status(self) -> dict[str, bool]:
        return {"login_status": bool(self.authenticated)}

    def post_tweet(self, content: str, tags: list[str] | None = None, mentions: list[str] | None = None) -> dict[str, Any]:
        if not self.authenticated:
            return _login_error("posting")
        tweet = {"id": self.tweet_counter, "username": self.username, "content": content,
                 "tags": [] if tags is None else tags, "mentions": [] if mentions is None else mentions}
        self.tweets[self.tweet_counter] = tweet
        self.tweet_counter += 1
        return tweet

    def retweet(self, tweet_id: int) -> dict[str, str]:
        if not self.authenticated:
            return _login_error("retweeting")
        if missing := self._missing(tweet_id):
            return missing
        mine = self.retweets.setdefault(self.username, [])
        if tweet_id in mine:
            return {"retweet_status": "Already retweeted"}
        mine.append(tweet_id)
        return {"retweet_status": "Successfully retweeted"}

    def comment(self, tweet_id: int, comment_content: str) -> dict[str, str]:
        if not self.authenticated:
            return _login_error("commenting")
        if missing := self._missing(tweet_id):
            return missing
        self.comments.setdefault(tweet_id, []).append({"username": self.username, "content": comment_content})
        return {"comment_status": "Comment added successfully"}

    def mention(self, tweet_id: int, mentioned_usernames: list[str]) -> dict[str, str]:
        if missing := self._missing(tweet_id):
            return missing
        self.tweets[tweet_id]["mentions"].extend(mentioned_usernames)
        return {"mention_status": "Users mentioned successfully"}

    def follow_user(self, username_to_follow: str) -> dict[str, Any]:
        if not self.authenticated:
            return _login_error("following")
        if username_to_follow in self.following_list:
            return {"follow_status": False}
        self.following_list.append(username_to_follow)
        return {"follow_status": True}

    def list_all_following(self) -> dict[str, Any]:
        if not self.authenticated:
            return _login_error("listing following")
        return {"following_list": self.following_list}

    def unfollow_user(self, username_to_unfollow: str) -> dict[str, Any]:
        if not self.authenticated:
            return _login_error("unfollowing")
        if username_to_unfollow not in self.following_list:
            return {"unfollow_status": False}
        self.following_list.remove(username_to_unfollow)
        return {"unfollow_status": True}

    def get_tweet(self, tweet_id: int) -> dict[str, Any]:
        return self._missing(tweet_id) or self.tweets[tweet_id]

    def get_user_tweets(self, username: str) -> list[dict[str, Any]]:
        return [t for t in self.tweets.values() if t["username"] == username]

    def search_tweets(self, keyword: str) -> list[dict[str, Any]]:
        needle = keyword.lower()
        return [t for t in self.tweets.values()
                if needle in t["content"].lower() or needle in [tag.lower() for tag in t["tags"]]]

    def get_tweet_comments(self, tweet_id: int) -> Any:
        return self._missing(tweet_id) or self.comments.get(tweet_id, [])

    def get_user_stats(self, username: str) -> dict[str, int]:
        return {"tweet_count": len(self.get_user_tweets(username)),
                "following_count": len(self.following_list) if username == self.username else 0,
                "retweet_count": len(self.retweets.get(username, []))}
