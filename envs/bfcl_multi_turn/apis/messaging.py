"""``MessageAPI``: a workspace messenger (users, login, an outbox of sent messages).

State compared by the checker: ``generated_ids``, ``user_count``, ``user_map``, ``inbox`` (one
``{receiver_id: text}`` per message), ``message_count``, ``current_user``. Message ids are drawn
from a generator seeded by the scenario's ``random_seed`` (200191 by default), so two instances
fed the same calls draw the same ids.
"""

from __future__ import annotations

from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis.base import Suite

__all__ = ["MessageAPI"]


class MessageAPI(Suite):
    name = "MessageAPI"
    doc_file = "message_api.json"
    defaults = {
        "generated_ids": set(),
        "user_count": 4,
        "user_map": {"Alice": "USR001", "Bob": "USR002", "Catherine": "USR003", "Daniel": "USR004"},
        "inbox": [{"USR002": "My name is Alice. I want to connect."}, {"USR003": "Could you upload the file?"},
                  {"USR004": "Could you upload the file?"}],
        "message_count": 3,
        "current_user": None,
    }

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        super()._load_scenario(scenario, long_context)
        self._random = self._seeded(scenario, 200191)

    def _new_id(self) -> dict[str, int]:
        new_id = self._random.randint(10000, 99999)
        while new_id in self.generated_ids:
            new_id = self._random.randint(10000, 99999)
        self.generated_ids.add(new_id)
        return {"new_id": new_id}

    def _messages(self):
        for message in self.inbox:
            yield next(iter(message.items()))

    def list_users(self) -> dict[str, list[str]]:
        return {"user_list": list(self.user_map)}

    def get_user_id(self, user: str) -> dict[str, Any]:
        if user not in self.user_map:
            return {"error": f"User '{user}' not found in the workspace."}
        return {"user_id": self.user_map[user]}

    def message_login(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.user_map.values():
            return {"login_status": False, "message": f"User ID '{user_id}' not found."}
        self.current_user = user_id
        return {"login_status": True, "message": f"User '{user_id}' logged in successfully."}

    def message_get_login_status(self) -> dict[str, bool]:
        return {"login_status": bool(self.current_user)}

    def send_message(self, receiver_id: str, message: str) -> dict[str, Any]:
        if not self.current_user:
            return {"error": "No user is currently logged in."}
        if receiver_id not in self.user_map.values():
            return {"error": f"Receiver ID '{receiver_id}' not found."}
        message_id = self._new_id()
        self.inbox.append({receiver_id: message})
        self.message_count += 1
        return {"sent_status": True, "message_id": message_id, "message": f"Message sent to '{receiver_id}' successfully."}

    def delete_message(self, receiver_id: str) -> dict[str, Any]:
        if not self.current_user:
            return {"error": "No user is currently logged in."}
        for message in reversed(self.inbox):
            receiver = next(iter(message))
            if receiver == receiver_id:
                self.inbox.remove(message)
                return {"deleted_status": True, "receiver_id": receiver,
                        "message": f"Receiver {receiver_id}'s latest message deleted successfully."}
        return {"error": f"Receiver ID {receiver_id} not found."}

    def view_messages_sent(self) -> dict[str, Any]:
        if not self.current_user:
            return {"error": "No user is currently logged in."}
        sent: dict[str, list[str]] = {}
        for receiver, text in self._messages():
            sent.setdefault(receiver, []).append(text)
        return {"messages": sent}

    def add_contact(self, user_name: str) -> dict[str, Any]:
        if user_name in self.user_map:
            return {"error": f"User name '{user_name}' already exists."}
        self.user_count += 1
        user_id = f"USR{str(self.user_count).zfill(3)}"
        if user_id in self.user_map.values():
            return {"error": f"User ID '{user_id}' already exists."}
        self.user_map[user_name] = user_id
        return {"added_status": True, "user_id": user_id, "message": f"Contact '{user_name}' added successfully."}

    def search_messages(self, keyword: str) -> dict[str, Any]:
        if not self.current_user:
            return {"error": "No user is currently logged in."}
        needle = keyword.lower()
        return {"results": [{"receiver_id": r, "message": t} for r, t in self._messages() if needle in t.lower()]}

    def get_message_stats(self) -> dict[str, Any]:
        if not self.current_user:
            return {"error": "No user is currently logged in."}
        receivers = [r for r, _ in self._messages()]
        return {"stats": {"received_count": len(receivers), "total_contacts": len(set(receivers))}}
