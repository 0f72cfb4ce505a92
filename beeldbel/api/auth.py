"""/api/v1/auth, /api/v1/me and /api/v1/users: signing in, sessions and staff accounts.

Signing in takes two steps (see ``beeldbel.identity.service``)::

    POST /api/v1/auth/sign-in        {username, password}
         -> {"status": "second_factor_required" | "enrolment_required", "challenge": ...}
    POST /api/v1/auth/second-factor  {challenge, code | recovery_code}      -> session
    POST /api/v1/auth/totp/enrol     {challenge}  -> {secret, otpauth_uri, qr_svg}
    POST /api/v1/auth/totp/confirm   {challenge, code}  -> session + recovery codes (once)

A session is ``{access_token, expires_in, ...}`` plus the refresh token. Browsers get the
refresh token in the ``bb_refresh`` cookie (HttpOnly, SameSite=Strict, Path=/api/v1/auth)
with a readable ``bb_csrf`` cookie to echo in ``X-CSRF-Token``, and a ``bb_device``
cookie that keeps strangers' failed attempts from throttling this browser; other clients
ask for the refresh token in the body (``"refresh_delivery": "body"``) and send it back
in the body.

None of these answers is ever stored for an Idempotency-Key replay: they carry tokens.
Refresh has its own retry rule (the same successor within 60 s).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from beeldbel.api import appkeys
from beeldbel.api.errors import JSON, response_for_error
from beeldbel.api.routing import Call, CleanupContext, DataClass, Handler, Operation, Reply
from beeldbel.api.schemas import PageQuery, Request, Response
from beeldbel.api.security import CSRF_COOKIE, REFRESH_COOKIE, request_is_tls
from beeldbel.errors import Forbidden, NotFound, Unauthenticated
from beeldbel.identity.accounts import Accounts
from beeldbel.identity.model import (
    MAX_DISPLAY_NAME,
    MAX_USERNAME,
    Principal,
    Role,
    StaffUser,
    staff_subject,
)
from beeldbel.identity.passwords import Passwords
from beeldbel.identity.rules import MAX_PASSWORD
from beeldbel.identity.serverkey import ServerKey
from beeldbel.identity.service import AuthService, Session
from beeldbel.identity.tokens import ChallengeStage
from beeldbel.ops.tasks import BackgroundTasks
from beeldbel.pagination import Cursor, PageRequest
from beeldbel.settings import is_loopback_host

__all__ = ["ACCOUNTS", "AUTH", "CONTEXTS", "DEVICE_COOKIE", "OPERATIONS", "REFRESH_PATH"]

AUTH = web.AppKey("identity_auth", AuthService)
ACCOUNTS = web.AppKey("identity_accounts", Accounts)
IDENTITY_TASKS = web.AppKey("identity_tasks", BackgroundTasks)

REFRESH_PATH = "/api/v1/auth"
DEVICE_COOKIE = "bb_device"
DEVICE_COOKIE_DAYS = 365
PRUNE_EVERY_SECONDS = 600.0

Secret = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]
ChallengeToken = Annotated[str, Field(min_length=1, max_length=4000)]
Code = Annotated[str, Field(min_length=1, max_length=20)]
RecoveryCode = Annotated[str, Field(min_length=1, max_length=40)]
RefreshToken = Annotated[str, Field(min_length=1, max_length=200)]
Delivery = Literal["cookie", "body"]


# Models -----------------------------------------------------------------------------------


class SignInBody(Request):
    username: Annotated[str, Field(min_length=1, max_length=200)]
    password: Secret


class SignInOut(Response):
    status: Literal["second_factor_required", "enrolment_required"]
    challenge: str = Field(description="Send it with the code (or to enrol); valid 5 minutes.")
    expires_in: int


class SecondFactorBody(Request):
    challenge: ChallengeToken
    code: Code | None = Field(default=None, description="The 6 digits of the authenticator app.")
    recovery_code: RecoveryCode | None = Field(
        default=None, description="One of the recovery codes, instead of a code."
    )
    refresh_delivery: Delivery = Field(
        default="cookie",
        description="'cookie' (browsers) or 'body' (other clients): where the refresh token goes.",
    )


class EnrolBody(Request):
    challenge: ChallengeToken


class EnrolmentOut(Response):
    secret: str = Field(description="To type into an authenticator app that cannot scan.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code, an SVG document.")


class ConfirmBody(Request):
    challenge: ChallengeToken
    code: Code
    refresh_delivery: Delivery = "cookie"


class RefreshBody(Request):
    refresh_token: RefreshToken | None = Field(
        default=None, description="Only for clients that keep it themselves; browsers omit it."
    )


class SessionOut(Response):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme's name)
    expires_in: int = Field(description="Seconds the access token lasts.")
    refresh_token: str | None = Field(
        default=None, description="Only with refresh_delivery 'body'; else in the cookie."
    )
    refresh_expires_at: datetime
    subject: str
    roles: list[Role]
    recovery_codes: list[str] | None = Field(
        default=None, description="Shown once, after enrolling: keep them somewhere safe."
    )


class PasswordBody(Request):
    current_password: Secret
    new_password: Secret


class PasswordChanged(Response):
    sessions_ended: int = Field(description="Other sign-ins ended (refresh tokens revoked).")


class TeamRef(Response):
    id: UUID
    name: str


class MeOut(Response):
    id: UUID
    subject: str
    username: str
    display_name: str
    roles: list[Role]
    teams: list[TeamRef]
    second_factor: bool = Field(description="This access token was earned with a second factor.")
    totp_enabled: bool
    recovery_codes_left: int


class UserOut(Response):
    id: UUID
    subject: str
    username: str
    display_name: str
    roles: list[Role]
    teams: list[UUID]
    totp_enabled: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, user: StaffUser) -> UserOut:
        return cls(
            id=user.id,
            subject=user.subject,
            username=user.username,
            display_name=user.display_name,
            roles=sorted(user.roles),
            teams=sorted(user.teams),
            totp_enabled=user.totp_enabled,
            disabled=user.disabled,
            created_at=user.created_at,
            updated_at=user.updated_at,
            version=user.version,
        )


class UserPage(Response):
    items: list[UserOut]
    next_cursor: str | None


Roles = Annotated[list[Role], Field(min_length=1, max_length=len(Role))]
Teams = Annotated[list[UUID], Field(max_length=50)]
DisplayName = Annotated[str, Field(min_length=1, max_length=MAX_DISPLAY_NAME)]


class UserCreate(Request):
    username: Annotated[str, Field(min_length=2, max_length=MAX_USERNAME)]
    display_name: DisplayName
    roles: Roles
    teams: Teams = Field(default_factory=list)


class UserCreated(Response):
    user: UserOut
    initial_password: str = Field(description="Shown once: hand it over in person.")


class UserPatch(Request):
    version: int = Field(ge=1, description="The version the change is based on.")
    display_name: DisplayName | None = None
    roles: Roles | None = None
    teams: Teams | None = None
    disabled: bool | None = Field(
        default=None, description="true disables the account and ends its sign-ins."
    )


class AdminAction(Request):
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="Why, for the audit trail (no client data, please)."
    )


class UserPath(Request):
    user_id: UUID


class SessionsEnded(Response):
    sessions_ended: int


class PasswordReset(Response):
    user: UserOut
    password: str = Field(description="The new password, shown once: hand it over in person.")


# Cookies ----------------------------------------------------------------------------------


def _cookie_secure(request: web.Request) -> bool:
    """Secure, except for plain http between a browser and a service on this machine."""
    if request_is_tls(request):
        return True
    return not (is_loopback_host(request.url.host or "") and is_loopback_host(request.remote or ""))


def _session_response(
    request: web.Request, session: Session, delivery: str, status: int = 200
) -> web.Response:
    body = SessionOut(
        access_token=session.access_token,
        expires_in=session.expires_in,
        refresh_token=session.refresh_token if delivery == "body" else None,
        refresh_expires_at=session.refresh_expires_at,
        subject=session.principal.subject,
        roles=sorted(session.principal.roles),
        recovery_codes=list(session.recovery_codes) if session.recovery_codes else None,
    )
    response = web.Response(status=status, body=body.model_dump_json().encode(), content_type=JSON)
    if delivery == "cookie":
        max_age = max(
            1, int((session.refresh_expires_at - request.app[appkeys.CLOCK].now()).total_seconds())
        )
        secure = _cookie_secure(request)
        response.set_cookie(
            REFRESH_COOKIE,
            session.refresh_token,
            path=REFRESH_PATH,
            max_age=max_age,
            httponly=True,
            secure=secure,
            samesite="Strict",
        )
        response.set_cookie(
            CSRF_COOKIE,
            secrets.token_urlsafe(32),
            path="/",
            max_age=max_age,
            httponly=False,
            secure=secure,
            samesite="Strict",
        )
        if session.device_cookie is not None:
            response.set_cookie(
                DEVICE_COOKIE,
                session.device_cookie,
                path=REFRESH_PATH,
                max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
                httponly=True,
                secure=secure,
                samesite="Strict",
            )
    return response


def _forget_cookies(request: web.Request, response: web.StreamResponse) -> None:
    secure = _cookie_secure(request)
    response.del_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=secure, samesite="Strict")
    response.del_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="Strict")


# Handlers ---------------------------------------------------------------------------------


async def sign_in(call: Call) -> Reply:
    body = call.body_as(SignInBody)
    step = await call.app[AUTH].sign_in(
        body.username, body.password, call.request.cookies.get(DEVICE_COOKIE)
    )
    status: Literal["second_factor_required", "enrolment_required"] = (
        "second_factor_required"
        if step.stage is ChallengeStage.SECOND_FACTOR
        else "enrolment_required"
    )
    return Reply(SignInOut(status=status, challenge=step.challenge, expires_in=step.expires_in))


async def second_factor(call: Call) -> web.StreamResponse:
    body = call.body_as(SecondFactorBody)
    session = await call.app[AUTH].second_factor(
        body.challenge,
        code=body.code,
        recovery_code=body.recovery_code,
        device=call.request.cookies.get(DEVICE_COOKIE),
    )
    return _session_response(call.request, session, body.refresh_delivery)


async def enrol(call: Call) -> Reply:
    enrolment = await call.app[AUTH].enrol(call.body_as(EnrolBody).challenge)
    return Reply(
        EnrolmentOut(
            secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
        )
    )


async def confirm(call: Call) -> web.StreamResponse:
    body = call.body_as(ConfirmBody)
    session = await call.app[AUTH].confirm_enrolment(
        body.challenge, body.code, call.request.cookies.get(DEVICE_COOKIE)
    )
    return _session_response(call.request, session, body.refresh_delivery)


async def refresh(call: Call) -> web.StreamResponse:
    body = call.body_as(RefreshBody)
    token = body.refresh_token
    delivery = "body" if token is not None else "cookie"
    if token is None:
        token = call.request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("no refresh token: sign in", details={"reason": "no_refresh_token"})
    try:
        session = await call.app[AUTH].refresh(token)
    except Unauthenticated as error:
        response = response_for_error(error)
        if delivery == "cookie":
            _forget_cookies(call.request, response)  # a dead sign-in should not linger
        return response
    return _session_response(call.request, session, delivery)


async def sign_out(call: Call) -> web.StreamResponse:
    token = call.body_as(RefreshBody).refresh_token or call.request.cookies.get(REFRESH_COOKIE)
    if token:
        await call.app[AUTH].sign_out(token)
    response = web.Response(status=204)
    _forget_cookies(call.request, response)
    return response


async def change_password(call: Call) -> Reply:
    body = call.body_as(PasswordBody)
    ended = await call.app[AUTH].change_password(
        call.who(), body.current_password, body.new_password
    )
    return Reply(PasswordChanged(sessions_ended=ended))


def _staff_id(principal: Principal) -> UUID:
    _, _, rest = principal.subject.partition(":")
    try:
        return UUID(rest)
    except ValueError:
        raise Unauthenticated("this token names no staff user") from None


async def me(call: Call) -> Reply:
    principal = call.who()
    accounts = call.app[ACCOUNTS]
    try:
        user = await accounts.get(_staff_id(principal))
    except NotFound:  # the token outlived the account
        raise Unauthenticated("this account no longer exists") from None
    if user.disabled:
        raise Unauthenticated("this account is disabled")
    names = await accounts.team_names(user.teams)
    teams = sorted(
        (TeamRef(id=t, name=names[t]) for t in user.teams if t in names), key=lambda t: t.name
    )
    return Reply(
        MeOut(
            id=user.id,
            subject=user.subject,
            username=user.username,
            display_name=user.display_name,
            roles=sorted(user.roles),
            teams=teams,
            second_factor=principal.second_factor,
            totp_enabled=user.totp_enabled,
            recovery_codes_left=await accounts.recovery_codes_left(user.id),
        )
    )


def _admin(call: Call) -> str:
    principal = call.who()
    if not principal.second_factor:
        raise Forbidden(
            "managing accounts needs a sign-in with the second factor",
            details={"reason": "second_factor_required"},
        )
    return principal.subject


async def list_users(call: Call) -> Reply:
    _admin(call)
    query = call.query_as(PageQuery)
    after = Cursor.decode(query.cursor) if query.cursor else None
    page = await call.app[ACCOUNTS].list(PageRequest(limit=query.limit, after=after))
    return Reply(UserPage(items=[UserOut.of(u) for u in page.items], next_cursor=page.next_cursor))


async def create_user(call: Call) -> Reply:
    actor = _admin(call)
    body = call.body_as(UserCreate)
    created = await call.app[ACCOUNTS].create(
        actor, body.username, body.display_name, frozenset(body.roles), frozenset(body.teams)
    )
    assert created.password is not None
    return Reply(
        UserCreated(user=UserOut.of(created.user), initial_password=created.password),
        status=201,
        headers={"Location": f"/api/v1/users/{created.user.id}"},
    )


async def get_user(call: Call) -> Reply:
    _admin(call)
    return Reply(UserOut.of(await call.app[ACCOUNTS].get(call.path_as(UserPath).user_id)))


async def patch_user(call: Call) -> Reply:
    actor = _admin(call)
    body = call.body_as(UserPatch)
    user_id = call.path_as(UserPath).user_id
    if call.who().subject == staff_subject(user_id) and (
        body.disabled or (body.roles is not None and Role.ADMIN not in body.roles)
    ):
        raise Forbidden(
            "you cannot disable your own account or take away your own admin role",
            details={"reason": "self"},
        )
    user = await call.app[ACCOUNTS].change(
        actor,
        user_id,
        body.version,
        display_name=body.display_name,
        roles=frozenset(body.roles) if body.roles is not None else None,
        teams=frozenset(body.teams) if body.teams is not None else None,
        disabled=body.disabled,
    )
    return Reply(UserOut.of(user))


async def end_sessions(call: Call) -> Reply:
    actor = _admin(call)
    reason = call.body_as(AdminAction).reason
    ended = await call.app[ACCOUNTS].end_sessions(actor, call.path_as(UserPath).user_id, reason)
    return Reply(SessionsEnded(sessions_ended=ended))


async def reset_password(call: Call) -> Reply:
    actor = _admin(call)
    reason = call.body_as(AdminAction).reason
    user, password = await call.app[ACCOUNTS].reset_password(
        actor, call.path_as(UserPath).user_id, reason=reason
    )
    assert password is not None
    return Reply(PasswordReset(user=UserOut.of(user), password=password))


async def reset_factor(call: Call) -> Reply:
    actor = _admin(call)
    reason = call.body_as(AdminAction).reason
    user = await call.app[ACCOUNTS].reset_factor(actor, call.path_as(UserPath).user_id, reason)
    return Reply(UserOut.of(user))


# Wiring -----------------------------------------------------------------------------------


async def _identity(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    db, clock, audit = app[appkeys.DATABASE], app[appkeys.CLOCK], app[appkeys.AUDIT]
    key = ServerKey.load_or_create(settings.keys_dir)
    passwords = Passwords()
    auth = AuthService(
        db,
        clock,
        app[appkeys.TOKENS],
        key,
        audit,
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        passwords=passwords,
    )
    app[AUTH] = auth
    app[ACCOUNTS] = Accounts(db, clock, audit, key, passwords)
    tasks = BackgroundTasks()
    app[IDENTITY_TASKS] = tasks
    tasks.every("prune_identity", PRUNE_EVERY_SECONDS, auth.prune)
    yield
    await tasks.close()


CONTEXTS: tuple[CleanupContext, ...] = (_identity,)

ADMIN = frozenset({Role.ADMIN})
TAG = "auth"


def _public(
    path: str,
    handler: Handler,
    operation_id: str,
    summary: str,
    *,
    body: type[Request],
    response: type[Response] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    description: str = "",
) -> Operation:
    """A POST anyone may send (rate limited per address), whose answer is never replayed."""
    return Operation(
        "POST",
        path,
        handler,
        operation_id,
        summary,
        TAG,
        DataClass.OPERATIONAL,
        body=body,
        response=response,
        status=status,
        errors=errors,
        description=description,
        public=True,
        idempotent_replay=False,
    )


def _admin_action(
    action: str,
    handler: Handler,
    operation_id: str,
    summary: str,
    response: type[Response],
    *,
    replay: bool = True,
) -> Operation:
    return Operation(
        "POST",
        f"/api/v1/users/{{user_id}}/{action}",
        handler,
        operation_id,
        summary,
        "users",
        DataClass.ORGANISATION,
        body=AdminAction,
        response=response,
        path_params=UserPath,
        roles=ADMIN,
        idempotent_replay=replay,
    )


OPERATIONS: tuple[Operation, ...] = (
    _public(
        "/api/v1/auth/sign-in",
        sign_in,
        "signIn",
        "Sign in, step one: username and password",
        body=SignInBody,
        response=SignInOut,
        errors=(401,),
        description="Wrong password, unknown user and disabled account get the same 401. "
        "After five failures an account waits (429 with Retry-After), longer each time, "
        "at most 15 minutes.",
    ),
    _public(
        "/api/v1/auth/second-factor",
        second_factor,
        "signInSecondFactor",
        "Sign in, step two: a TOTP code or a recovery code",
        body=SecondFactorBody,
        response=SessionOut,
        errors=(401,),
    ),
    _public(
        "/api/v1/auth/totp/enrol",
        enrol,
        "enrolTotp",
        "Start enrolling an authenticator app (first sign-in)",
        body=EnrolBody,
        response=EnrolmentOut,
        errors=(401,),
    ),
    _public(
        "/api/v1/auth/totp/confirm",
        confirm,
        "confirmTotp",
        "Finish enrolling with a first code; the answer holds the recovery codes, once",
        body=ConfirmBody,
        response=SessionOut,
        errors=(401, 409),
    ),
    _public(
        "/api/v1/auth/refresh",
        refresh,
        "refreshSession",
        "A new access token (and refresh token) for the refresh token",
        body=RefreshBody,
        response=SessionOut,
        errors=(401,),
        description="The refresh token comes from the bb_refresh cookie or the body. It "
        "rotates: presented again within 60 s it gives the same successor; later, the "
        "whole sign-in is revoked.",
    ),
    _public(
        "/api/v1/auth/sign-out",
        sign_out,
        "signOut",
        "End this sign-in",
        body=RefreshBody,
        status=204,
    ),
    Operation(
        "POST",
        "/api/v1/auth/password",
        change_password,
        "changePassword",
        "Change your password; your other sign-ins end",
        TAG,
        DataClass.OPERATIONAL,
        body=PasswordBody,
        response=PasswordChanged,
        idempotent_replay=False,
    ),
    Operation(
        "GET",
        "/api/v1/me",
        me,
        "getMe",
        "Who you are: name, roles, teams",
        TAG,
        DataClass.ORGANISATION,
        response=MeOut,
    ),
    Operation(
        "GET",
        "/api/v1/users",
        list_users,
        "listUsers",
        "List staff accounts",
        "users",
        DataClass.ORGANISATION,
        response=UserPage,
        query=PageQuery,
        roles=ADMIN,
    ),
    Operation(
        "POST",
        "/api/v1/users",
        create_user,
        "createUser",
        "Create a staff account; its first password is in the answer, once",
        "users",
        DataClass.ORGANISATION,
        body=UserCreate,
        response=UserCreated,
        status=201,
        roles=ADMIN,
        idempotent_replay=False,
    ),
    Operation(
        "GET",
        "/api/v1/users/{user_id}",
        get_user,
        "getUser",
        "One staff account",
        "users",
        DataClass.ORGANISATION,
        response=UserOut,
        path_params=UserPath,
        roles=ADMIN,
    ),
    Operation(
        "PATCH",
        "/api/v1/users/{user_id}",
        patch_user,
        "changeUser",
        "Change a staff account's name, roles or teams",
        "users",
        DataClass.ORGANISATION,
        body=UserPatch,
        response=UserOut,
        path_params=UserPath,
        roles=ADMIN,
        errors=(409,),
    ),
    _admin_action(
        "end-sessions",
        end_sessions,
        "endUserSessions",
        "End every sign-in of an account (a lost phone or laptop)",
        SessionsEnded,
    ),
    _admin_action(
        "reset-password",
        reset_password,
        "resetUserPassword",
        "Set a new generated password (in the answer, once); the account's sign-ins end",
        PasswordReset,
        replay=False,
    ),
    _admin_action(
        "reset-factor",
        reset_factor,
        "resetUserFactor",
        "Remove the authenticator; sign-ins end and the next sign-in enrols one",
        UserOut,
    ),
)
