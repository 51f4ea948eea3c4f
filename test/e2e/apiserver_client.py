"""Drives clawplane-apiserver through a client generated from api/openapi.json by
openapi-python-client: login, the admin's user list and user creation, a runtime's
start and stop, and an API token's create, use, list and revoke. Every answer must parse
into the generated typed model (User, UserList, Runtime, TokenCreated...), which is what
a generated client is for: a schema the generator dropped or could not name would come
back as None or a bare dict here.

Usage: apiserver_client.py <dir holding the generated package> <base url> <admin password>
"""

import sys

sys.path.insert(0, sys.argv[1])
base, admin_pw = sys.argv[2], sys.argv[3]

from clawplane_apiserver_client import AuthenticatedClient, Client  # noqa: E402
from clawplane_apiserver_client.api.admin import create_user, list_users  # noqa: E402
from clawplane_apiserver_client.api.auth import (  # noqa: E402
    create_token,
    list_tokens,
    login,
    revoke_token,
)
from clawplane_apiserver_client.api.runtime import (  # noqa: E402
    get_runtime,
    start_runtime,
    stop_runtime,
)
from clawplane_apiserver_client.api.users import get_user  # noqa: E402
from clawplane_apiserver_client.models import (  # noqa: E402
    LoginRequest,
    LoginResponse,
    Runtime,
    TokenCreate,
    TokenCreated,
    TokenList,
    User,
    UserCreate,
    UserList,
    UserListItem,
    UserSummary,
)

checks = 0


def ok(what):
    global checks
    checks += 1
    print(f"ok {checks} - {what}", flush=True)


def want(cond, what, got=None):
    if not cond:
        sys.exit(f"FAIL: {what}" + (f": {got!r}" if got is not None else ""))


def sign_in(username, password):
    r = login.sync_detailed(client=Client(base_url=base),
                            body=LoginRequest(username=username, password=password))
    want(r.status_code == 200, f"login {username}", r.content)
    want(isinstance(r.parsed, LoginResponse), "login answers a LoginResponse", r.parsed)
    want(isinstance(r.parsed.user, UserSummary) and r.parsed.user.username == username,
         "LoginResponse.user is a UserSummary", r.parsed.user)
    return AuthenticatedClient(base_url=base, token=r.parsed.token)


admin = sign_in("root", admin_pw)
ok("login as the admin: a typed LoginResponse whose user is a UserSummary")

r = create_user.sync_detailed(client=admin,
                              body=UserCreate(username="alice", password="alice-password"))
want(r.status_code == 201 and isinstance(r.parsed, User), "create alice", r.content)
want(r.parsed.username == "alice" and str(r.parsed.role) in ("user", "UserRole.USER"),
     "created user", r.parsed)
users = list_users.sync(client=admin)
want(isinstance(users, UserList), "list users answers a UserList", users)
want(all(isinstance(u, UserListItem) for u in users.items), "UserList.items are UserListItems",
     users.items)
want(sorted(u.username for u in users.items) == ["alice", "root"], "usernames", users.items)
me = get_user.sync(client=admin, user="alice")
want(isinstance(me, User) and me.username == "alice", "get_user alice", me)
ok("admin creates alice and lists users: User, UserList and UserListItem models")

alice = sign_in("alice", "alice-password")
rt = start_runtime.sync(client=alice, user="me")
want(isinstance(rt, Runtime), "start answers a Runtime", rt)
want(rt.user == "alice" and str(rt.desired.state).endswith("Running"), "started", rt)
rt = stop_runtime.sync(client=alice, user="me")
want(isinstance(rt, Runtime) and str(rt.desired.state).endswith("Stopped"), "stopped", rt)
rt = get_runtime.sync(client=alice, user="alice")
want(isinstance(rt, Runtime) and str(rt.desired.state).endswith("Stopped"), "get runtime", rt)
ok("alice starts and stops her runtime: Runtime models with the desired state")

made = create_token.sync(client=alice, user="me", body=TokenCreate(name="ci"))
want(isinstance(made, TokenCreated) and made.token.startswith("cpt_"), "create token", made)
by_token = AuthenticatedClient(base_url=base, token=made.token)
who = get_user.sync(client=by_token, user="me")
want(isinstance(who, User) and who.username == "alice", "the token authenticates alice", who)
tokens = list_tokens.sync(client=alice, user="me")
want(isinstance(tokens, TokenList), "list tokens answers a TokenList", tokens)
want([t.name for t in tokens.items] == ["ci"] and tokens.items[0].id == made.id,
     "token list", tokens.items)
r = revoke_token.sync_detailed(client=alice, user="me", id=made.id)
want(r.status_code == 200, "revoke token", r.content)
r = get_user.sync_detailed(client=by_token, user="me")
want(r.status_code == 401, "a revoked token is refused", r.status_code)
tokens = list_tokens.sync(client=alice, user="me")
want(all(t.revoked for t in tokens.items if t.id == made.id), "listed as revoked", tokens.items)
ok("alice creates an API token, uses it, lists it and revokes it")
