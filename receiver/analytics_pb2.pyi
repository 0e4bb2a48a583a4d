from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Analytics(_message.Message):
    __slots__ = ("system_id", "online_content_apps", "online_workers", "components", "postgresql_version", "rbac_stats")
    class OnlineContentApps(_message.Message):
        __slots__ = ("processes", "hosts")
        PROCESSES_FIELD_NUMBER: _ClassVar[int]
        HOSTS_FIELD_NUMBER: _ClassVar[int]
        processes: int
        hosts: int
        def __init__(self, processes: _Optional[int] = ..., hosts: _Optional[int] = ...) -> None: ...
    class OnlineWorkers(_message.Message):
        __slots__ = ("processes", "hosts")
        PROCESSES_FIELD_NUMBER: _ClassVar[int]
        HOSTS_FIELD_NUMBER: _ClassVar[int]
        processes: int
        hosts: int
        def __init__(self, processes: _Optional[int] = ..., hosts: _Optional[int] = ...) -> None: ...
    class Component(_message.Message):
        __slots__ = ("name", "version")
        NAME_FIELD_NUMBER: _ClassVar[int]
        VERSION_FIELD_NUMBER: _ClassVar[int]
        name: str
        version: str
        def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...
    class RBACStats(_message.Message):
        __slots__ = ("users", "groups", "domains", "custom_access_policies", "custom_roles")
        USERS_FIELD_NUMBER: _ClassVar[int]
        GROUPS_FIELD_NUMBER: _ClassVar[int]
        DOMAINS_FIELD_NUMBER: _ClassVar[int]
        CUSTOM_ACCESS_POLICIES_FIELD_NUMBER: _ClassVar[int]
        CUSTOM_ROLES_FIELD_NUMBER: _ClassVar[int]
        users: int
        groups: int
        domains: int
        custom_access_policies: int
        custom_roles: int
        def __init__(self, users: _Optional[int] = ..., groups: _Optional[int] = ..., domains: _Optional[int] = ..., custom_access_policies: _Optional[int] = ..., custom_roles: _Optional[int] = ...) -> None: ...
    SYSTEM_ID_FIELD_NUMBER: _ClassVar[int]
    ONLINE_CONTENT_APPS_FIELD_NUMBER: _ClassVar[int]
    ONLINE_WORKERS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    POSTGRESQL_VERSION_FIELD_NUMBER: _ClassVar[int]
    RBAC_STATS_FIELD_NUMBER: _ClassVar[int]
    system_id: str
    online_content_apps: Analytics.OnlineContentApps
    online_workers: Analytics.OnlineWorkers
    components: _containers.RepeatedCompositeFieldContainer[Analytics.Component]
    postgresql_version: int
    rbac_stats: Analytics.RBACStats
    def __init__(self, system_id: _Optional[str] = ..., online_content_apps: _Optional[_Union[Analytics.OnlineContentApps, _Mapping]] = ..., online_workers: _Optional[_Union[Analytics.OnlineWorkers, _Mapping]] = ..., components: _Optional[_Iterable[_Union[Analytics.Component, _Mapping]]] = ..., postgresql_version: _Optional[int] = ..., rbac_stats: _Optional[_Union[Analytics.RBACStats, _Mapping]] = ...) -> None: ...
