from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProjectStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECT_STATUS_UNSPECIFIED: _ClassVar[ProjectStatus]
    PROJECT_STATUS_ACTIVE: _ClassVar[ProjectStatus]
    PROJECT_STATUS_ARCHIVED: _ClassVar[ProjectStatus]

class WorkItemType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORK_ITEM_TYPE_UNSPECIFIED: _ClassVar[WorkItemType]
    EPIC: _ClassVar[WorkItemType]
    STORY: _ClassVar[WorkItemType]
    TASK: _ClassVar[WorkItemType]

class SprintStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPRINT_STATUS_UNSPECIFIED: _ClassVar[SprintStatus]
    PLANNED: _ClassVar[SprintStatus]
    ACTIVE: _ClassVar[SprintStatus]
    COMPLETED: _ClassVar[SprintStatus]
    CANCELLED: _ClassVar[SprintStatus]

class DependencyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPENDENCY_TYPE_UNSPECIFIED: _ClassVar[DependencyType]
    BLOCKS: _ClassVar[DependencyType]
    RELATES_TO: _ClassVar[DependencyType]
PROJECT_STATUS_UNSPECIFIED: ProjectStatus
PROJECT_STATUS_ACTIVE: ProjectStatus
PROJECT_STATUS_ARCHIVED: ProjectStatus
WORK_ITEM_TYPE_UNSPECIFIED: WorkItemType
EPIC: WorkItemType
STORY: WorkItemType
TASK: WorkItemType
SPRINT_STATUS_UNSPECIFIED: SprintStatus
PLANNED: SprintStatus
ACTIVE: SprintStatus
COMPLETED: SprintStatus
CANCELLED: SprintStatus
DEPENDENCY_TYPE_UNSPECIFIED: DependencyType
BLOCKS: DependencyType
RELATES_TO: DependencyType

class WebSocketMessage(_message.Message):
    __slots__ = ("message_id", "timestamp", "event", "positions", "ping", "pong", "subscribe", "unsubscribe", "create_work_item_request", "update_work_item_request", "delete_work_item_request", "get_work_items_request", "work_item_created", "work_item_updated", "work_item_deleted", "work_items_list", "create_sprint_request", "update_sprint_request", "delete_sprint_request", "get_sprints_request", "sprint_created", "sprint_updated", "sprint_deleted", "sprints_list", "create_comment_request", "update_comment_request", "delete_comment_request", "get_comments_request", "comment_created", "comment_updated", "comment_deleted", "comments_list", "create_project_request", "update_project_request", "delete_project_request", "list_projects_request", "project_created", "project_updated", "project_deleted", "project_list", "error", "start_timer_request", "stop_timer_request", "create_time_entry_request", "update_time_entry_request", "delete_time_entry_request", "get_time_entries_request", "get_running_timer_request", "timer_started", "timer_stopped", "time_entry_created", "time_entry_updated", "time_entry_deleted", "time_entries_list", "running_timer_response", "create_dependency_request", "delete_dependency_request", "get_dependencies_request", "dependency_created", "dependency_deleted", "dependencies_list", "get_activity_log_request", "activity_log_list", "activity_log_created", "get_llm_context_request", "llm_context_list")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    CREATE_WORK_ITEM_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_WORK_ITEM_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_WORK_ITEM_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_WORK_ITEMS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEM_CREATED_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEM_UPDATED_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEM_DELETED_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEMS_LIST_FIELD_NUMBER: _ClassVar[int]
    CREATE_SPRINT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_SPRINT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_SPRINT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_SPRINTS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SPRINT_CREATED_FIELD_NUMBER: _ClassVar[int]
    SPRINT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    SPRINT_DELETED_FIELD_NUMBER: _ClassVar[int]
    SPRINTS_LIST_FIELD_NUMBER: _ClassVar[int]
    CREATE_COMMENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_COMMENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_COMMENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_COMMENTS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    COMMENT_CREATED_FIELD_NUMBER: _ClassVar[int]
    COMMENT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    COMMENT_DELETED_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_LIST_FIELD_NUMBER: _ClassVar[int]
    CREATE_PROJECT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PROJECT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_PROJECT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LIST_PROJECTS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PROJECT_CREATED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_DELETED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_LIST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    START_TIMER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    STOP_TIMER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_ENTRY_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_ENTRY_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIME_ENTRY_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_TIME_ENTRIES_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_RUNNING_TIMER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    TIMER_STARTED_FIELD_NUMBER: _ClassVar[int]
    TIMER_STOPPED_FIELD_NUMBER: _ClassVar[int]
    TIME_ENTRY_CREATED_FIELD_NUMBER: _ClassVar[int]
    TIME_ENTRY_UPDATED_FIELD_NUMBER: _ClassVar[int]
    TIME_ENTRY_DELETED_FIELD_NUMBER: _ClassVar[int]
    TIME_ENTRIES_LIST_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TIMER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CREATE_DEPENDENCY_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DELETE_DEPENDENCY_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_DEPENDENCIES_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_CREATED_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_DELETED_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_LIST_FIELD_NUMBER: _ClassVar[int]
    GET_ACTIVITY_LOG_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_LOG_LIST_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_LOG_CREATED_FIELD_NUMBER: _ClassVar[int]
    GET_LLM_CONTEXT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LLM_CONTEXT_LIST_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    timestamp: int
    event: EventPosition
    positions: _containers.RepeatedCompositeFieldContainer[EventPosition]
    ping: Ping
    pong: Pong
    subscribe: Subscribe
    unsubscribe: Unsubscribe
    create_work_item_request: CreateWorkItemRequest
    update_work_item_request: UpdateWorkItemRequest
    delete_work_item_request: DeleteWorkItemRequest
    get_work_items_request: GetWorkItemsRequest
    work_item_created: WorkItemCreated
    work_item_updated: WorkItemUpdated
    work_item_deleted: WorkItemDeleted
    work_items_list: WorkItemsList
    create_sprint_request: CreateSprintRequest
    update_sprint_request: UpdateSprintRequest
    delete_sprint_request: DeleteSprintRequest
    get_sprints_request: GetSprintsRequest
    sprint_created: SprintCreated
    sprint_updated: SprintUpdated
    sprint_deleted: SprintDeleted
    sprints_list: SprintsList
    create_comment_request: CreateCommentRequest
    update_comment_request: UpdateCommentRequest
    delete_comment_request: DeleteCommentRequest
    get_comments_request: GetCommentsRequest
    comment_created: CommentCreated
    comment_updated: CommentUpdated
    comment_deleted: CommentDeleted
    comments_list: CommentsList
    create_project_request: CreateProjectRequest
    update_project_request: UpdateProjectRequest
    delete_project_request: DeleteProjectRequest
    list_projects_request: ListProjectsRequest
    project_created: ProjectCreated
    project_updated: ProjectUpdated
    project_deleted: ProjectDeleted
    project_list: ProjectList
    error: Error
    start_timer_request: StartTimerRequest
    stop_timer_request: StopTimerRequest
    create_time_entry_request: CreateTimeEntryRequest
    update_time_entry_request: UpdateTimeEntryRequest
    delete_time_entry_request: DeleteTimeEntryRequest
    get_time_entries_request: GetTimeEntriesRequest
    get_running_timer_request: GetRunningTimerRequest
    timer_started: TimerStarted
    timer_stopped: TimerStopped
    time_entry_created: TimeEntryCreated
    time_entry_updated: TimeEntryUpdated
    time_entry_deleted: TimeEntryDeleted
    time_entries_list: TimeEntriesList
    running_timer_response: RunningTimerResponse
    create_dependency_request: CreateDependencyRequest
    delete_dependency_request: DeleteDependencyRequest
    get_dependencies_request: GetDependenciesRequest
    dependency_created: DependencyCreated
    dependency_deleted: DependencyDeleted
    dependencies_list: DependenciesList
    get_activity_log_request: GetActivityLogRequest
    activity_log_list: ActivityLogList
    activity_log_created: ActivityLogCreated
    get_llm_context_request: GetLlmContextRequest
    llm_context_list: LlmContextList
    def __init__(self, message_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., event: _Optional[_Union[EventPosition, _Mapping]] = ..., positions: _Optional[_Iterable[_Union[EventPosition, _Mapping]]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., subscribe: _Optional[_Union[Subscribe, _Mapping]] = ..., unsubscribe: _Optional[_Union[Unsubscribe, _Mapping]] = ..., create_work_item_request: _Optional[_Union[CreateWorkItemRequest, _Mapping]] = ..., update_work_item_request: _Optional[_Union[UpdateWorkItemRequest, _Mapping]] = ..., delete_work_item_request: _Optional[_Union[DeleteWorkItemRequest, _Mapping]] = ..., get_work_items_request: _Optional[_Union[GetWorkItemsRequest, _Mapping]] = ..., work_item_created: _Optional[_Union[WorkItemCreated, _Mapping]] = ..., work_item_updated: _Optional[_Union[WorkItemUpdated, _Mapping]] = ..., work_item_deleted: _Optional[_Union[WorkItemDeleted, _Mapping]] = ..., work_items_list: _Optional[_Union[WorkItemsList, _Mapping]] = ..., create_sprint_request: _Optional[_Union[CreateSprintRequest, _Mapping]] = ..., update_sprint_request: _Optional[_Union[UpdateSprintRequest, _Mapping]] = ..., delete_sprint_request: _Optional[_Union[DeleteSprintRequest, _Mapping]] = ..., get_sprints_request: _Optional[_Union[GetSprintsRequest, _Mapping]] = ..., sprint_created: _Optional[_Union[SprintCreated, _Mapping]] = ..., sprint_updated: _Optional[_Union[SprintUpdated, _Mapping]] = ..., sprint_deleted: _Optional[_Union[SprintDeleted, _Mapping]] = ..., sprints_list: _Optional[_Union[SprintsList, _Mapping]] = ..., create_comment_request: _Optional[_Union[CreateCommentRequest, _Mapping]] = ..., update_comment_request: _Optional[_Union[UpdateCommentRequest, _Mapping]] = ..., delete_comment_request: _Optional[_Union[DeleteCommentRequest, _Mapping]] = ..., get_comments_request: _Optional[_Union[GetCommentsRequest, _Mapping]] = ..., comment_created: _Optional[_Union[CommentCreated, _Mapping]] = ..., comment_updated: _Optional[_Union[CommentUpdated, _Mapping]] = ..., comment_deleted: _Optional[_Union[CommentDeleted, _Mapping]] = ..., comments_list: _Optional[_Union[CommentsList, _Mapping]] = ..., create_project_request: _Optional[_Union[CreateProjectRequest, _Mapping]] = ..., update_project_request: _Optional[_Union[UpdateProjectRequest, _Mapping]] = ..., delete_project_request: _Optional[_Union[DeleteProjectRequest, _Mapping]] = ..., list_projects_request: _Optional[_Union[ListProjectsRequest, _Mapping]] = ..., project_created: _Optional[_Union[ProjectCreated, _Mapping]] = ..., project_updated: _Optional[_Union[ProjectUpdated, _Mapping]] = ..., project_deleted: _Optional[_Union[ProjectDeleted, _Mapping]] = ..., project_list: _Optional[_Union[ProjectList, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., start_timer_request: _Optional[_Union[StartTimerRequest, _Mapping]] = ..., stop_timer_request: _Optional[_Union[StopTimerRequest, _Mapping]] = ..., create_time_entry_request: _Optional[_Union[CreateTimeEntryRequest, _Mapping]] = ..., update_time_entry_request: _Optional[_Union[UpdateTimeEntryRequest, _Mapping]] = ..., delete_time_entry_request: _Optional[_Union[DeleteTimeEntryRequest, _Mapping]] = ..., get_time_entries_request: _Optional[_Union[GetTimeEntriesRequest, _Mapping]] = ..., get_running_timer_request: _Optional[_Union[GetRunningTimerRequest, _Mapping]] = ..., timer_started: _Optional[_Union[TimerStarted, _Mapping]] = ..., timer_stopped: _Optional[_Union[TimerStopped, _Mapping]] = ..., time_entry_created: _Optional[_Union[TimeEntryCreated, _Mapping]] = ..., time_entry_updated: _Optional[_Union[TimeEntryUpdated, _Mapping]] = ..., time_entry_deleted: _Optional[_Union[TimeEntryDeleted, _Mapping]] = ..., time_entries_list: _Optional[_Union[TimeEntriesList, _Mapping]] = ..., running_timer_response: _Optional[_Union[RunningTimerResponse, _Mapping]] = ..., create_dependency_request: _Optional[_Union[CreateDependencyRequest, _Mapping]] = ..., delete_dependency_request: _Optional[_Union[DeleteDependencyRequest, _Mapping]] = ..., get_dependencies_request: _Optional[_Union[GetDependenciesRequest, _Mapping]] = ..., dependency_created: _Optional[_Union[DependencyCreated, _Mapping]] = ..., dependency_deleted: _Optional[_Union[DependencyDeleted, _Mapping]] = ..., dependencies_list: _Optional[_Union[DependenciesList, _Mapping]] = ..., get_activity_log_request: _Optional[_Union[GetActivityLogRequest, _Mapping]] = ..., activity_log_list: _Optional[_Union[ActivityLogList, _Mapping]] = ..., activity_log_created: _Optional[_Union[ActivityLogCreated, _Mapping]] = ..., get_llm_context_request: _Optional[_Union[GetLlmContextRequest, _Mapping]] = ..., llm_context_list: _Optional[_Union[LlmContextList, _Mapping]] = ...) -> None: ...

class Project(_message.Message):
    __slots__ = ("id", "title", "description", "key", "status", "version", "created_at", "updated_at", "created_by", "updated_by", "deleted_at", "next_work_item_number")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_WORK_ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    description: str
    key: str
    status: ProjectStatus
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    deleted_at: int
    next_work_item_number: int
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., key: _Optional[str] = ..., status: _Optional[_Union[ProjectStatus, str]] = ..., version: _Optional[int] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., deleted_at: _Optional[int] = ..., next_work_item_number: _Optional[int] = ...) -> None: ...

class WorkItem(_message.Message):
    __slots__ = ("id", "item_type", "parent_id", "project_id", "position", "title", "description", "status", "assignee_id", "sprint_id", "created_at", "updated_at", "created_by", "updated_by", "deleted_at", "priority", "story_points", "version", "item_number", "ancestor_ids", "descendant_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    SPRINT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STORY_POINTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_IDS_FIELD_NUMBER: _ClassVar[int]
    DESCENDANT_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    item_type: WorkItemType
    parent_id: str
    project_id: str
    position: int
    title: str
    description: str
    status: str
    assignee_id: str
    sprint_id: str
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    deleted_at: int
    priority: str
    story_points: int
    version: int
    item_number: int
    ancestor_ids: _containers.RepeatedScalarFieldContainer[str]
    descendant_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., item_type: _Optional[_Union[WorkItemType, str]] = ..., parent_id: _Optional[str] = ..., project_id: _Optional[str] = ..., position: _Optional[int] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ..., assignee_id: _Optional[str] = ..., sprint_id: _Optional[str] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., deleted_at: _Optional[int] = ..., priority: _Optional[str] = ..., story_points: _Optional[int] = ..., version: _Optional[int] = ..., item_number: _Optional[int] = ..., ancestor_ids: _Optional[_Iterable[str]] = ..., descendant_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Sprint(_message.Message):
    __slots__ = ("id", "project_id", "name", "goal", "start_date", "end_date", "status", "version", "created_at", "updated_at", "created_by", "updated_by", "deleted_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    name: str
    goal: str
    start_date: int
    end_date: int
    status: SprintStatus
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    deleted_at: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., goal: _Optional[str] = ..., start_date: _Optional[int] = ..., end_date: _Optional[int] = ..., status: _Optional[_Union[SprintStatus, str]] = ..., version: _Optional[int] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., deleted_at: _Optional[int] = ...) -> None: ...

class Comment(_message.Message):
    __slots__ = ("id", "work_item_id", "content", "created_at", "updated_at", "created_by", "updated_by", "deleted_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    work_item_id: str
    content: str
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    deleted_at: int
    def __init__(self, id: _Optional[str] = ..., work_item_id: _Optional[str] = ..., content: _Optional[str] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., deleted_at: _Optional[int] = ...) -> None: ...

class TimeEntry(_message.Message):
    __slots__ = ("id", "work_item_id", "user_id", "started_at", "ended_at", "duration_seconds", "description", "created_at", "updated_at", "deleted_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    work_item_id: str
    user_id: str
    started_at: int
    ended_at: int
    duration_seconds: int
    description: str
    created_at: int
    updated_at: int
    deleted_at: int
    def __init__(self, id: _Optional[str] = ..., work_item_id: _Optional[str] = ..., user_id: _Optional[str] = ..., started_at: _Optional[int] = ..., ended_at: _Optional[int] = ..., duration_seconds: _Optional[int] = ..., description: _Optional[str] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., deleted_at: _Optional[int] = ...) -> None: ...

class Dependency(_message.Message):
    __slots__ = ("id", "blocking_item_id", "blocked_item_id", "dependency_type", "created_at", "created_by", "deleted_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    blocking_item_id: str
    blocked_item_id: str
    dependency_type: DependencyType
    created_at: int
    created_by: str
    deleted_at: int
    def __init__(self, id: _Optional[str] = ..., blocking_item_id: _Optional[str] = ..., blocked_item_id: _Optional[str] = ..., dependency_type: _Optional[_Union[DependencyType, str]] = ..., created_at: _Optional[int] = ..., created_by: _Optional[str] = ..., deleted_at: _Optional[int] = ...) -> None: ...

class SwimLane(_message.Message):
    __slots__ = ("id", "project_id", "name", "status_value", "position", "is_default", "created_at", "updated_at", "deleted_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_VALUE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    name: str
    status_value: str
    position: int
    is_default: bool
    created_at: int
    updated_at: int
    deleted_at: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., status_value: _Optional[str] = ..., position: _Optional[int] = ..., is_default: _Optional[bool] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., deleted_at: _Optional[int] = ...) -> None: ...

class FieldChange(_message.Message):
    __slots__ = ("field_name", "old_value", "new_value")
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    field_name: str
    old_value: str
    new_value: str
    def __init__(self, field_name: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ...) -> None: ...

class ActivityLogEntry(_message.Message):
    __slots__ = ("id", "entity_type", "entity_id", "action", "field_name", "old_value", "new_value", "user_id", "timestamp", "comment")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    entity_type: str
    entity_id: str
    action: str
    field_name: str
    old_value: str
    new_value: str
    user_id: str
    timestamp: int
    comment: str
    def __init__(self, id: _Optional[str] = ..., entity_type: _Optional[str] = ..., entity_id: _Optional[str] = ..., action: _Optional[str] = ..., field_name: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., user_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class LlmContextEntry(_message.Message):
    __slots__ = ("id", "context_type", "category", "title", "content", "example_sql", "example_description", "priority")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_SQL_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    context_type: str
    category: str
    title: str
    content: str
    example_sql: str
    example_description: str
    priority: int
    def __init__(self, id: _Optional[str] = ..., context_type: _Optional[str] = ..., category: _Optional[str] = ..., title: _Optional[str] = ..., content: _Optional[str] = ..., example_sql: _Optional[str] = ..., example_description: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("timestamp",)
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    def __init__(self, timestamp: _Optional[int] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ("timestamp",)
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    def __init__(self, timestamp: _Optional[int] = ...) -> None: ...

class Subscribe(_message.Message):
    __slots__ = ("project_ids", "sprint_ids", "resume")
    PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    SPRINT_IDS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    project_ids: _containers.RepeatedScalarFieldContainer[str]
    sprint_ids: _containers.RepeatedScalarFieldContainer[str]
    resume: _containers.RepeatedCompositeFieldContainer[EventPosition]
    def __init__(self, project_ids: _Optional[_Iterable[str]] = ..., sprint_ids: _Optional[_Iterable[str]] = ..., resume: _Optional[_Iterable[_Union[EventPosition, _Mapping]]] = ...) -> None: ...

class EventPosition(_message.Message):
    __slots__ = ("project_id", "seq")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    seq: int
    def __init__(self, project_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class Unsubscribe(_message.Message):
    __slots__ = ("project_ids", "sprint_ids")
    PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    SPRINT_IDS_FIELD_NUMBER: _ClassVar[int]
    project_ids: _containers.RepeatedScalarFieldContainer[str]
    sprint_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_ids: _Optional[_Iterable[str]] = ..., sprint_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    field: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("title", "description", "key")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    title: str
    description: str
    key: str
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class UpdateProjectRequest(_message.Message):
    __slots__ = ("project_id", "expected_version", "title", "description", "status")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    expected_version: int
    title: str
    description: str
    status: ProjectStatus
    def __init__(self, project_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[ProjectStatus, str]] = ...) -> None: ...

class DeleteProjectRequest(_message.Message):
    __slots__ = ("project_id", "expected_version")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    expected_version: int
    def __init__(self, project_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProjectCreated(_message.Message):
    __slots__ = ("project", "user_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    project: Project
    user_id: str
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class ProjectUpdated(_message.Message):
    __slots__ = ("project", "changes", "user_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    project: Project
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    user_id: str
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., user_id: _Optional[str] = ...) -> None: ...

class ProjectDeleted(_message.Message):
    __slots__ = ("project_id", "user_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    user_id: str
    def __init__(self, project_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ProjectList(_message.Message):
    __slots__ = ("projects",)
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ...) -> None: ...

class CreateWorkItemRequest(_message.Message):
    __slots__ = ("item_type", "title", "description", "parent_id", "project_id", "status", "priority")
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    item_type: WorkItemType
    title: str
    description: str
    parent_id: str
    project_id: str
    status: str
    priority: str
    def __init__(self, item_type: _Optional[_Union[WorkItemType, str]] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., parent_id: _Optional[str] = ..., project_id: _Optional[str] = ..., status: _Optional[str] = ..., priority: _Optional[str] = ...) -> None: ...

class UpdateWorkItemRequest(_message.Message):
    __slots__ = ("work_item_id", "expected_version", "title", "description", "status", "assignee_id", "sprint_id", "position", "priority", "story_points", "parent_id", "update_parent")
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    SPRINT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STORY_POINTS_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PARENT_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    expected_version: int
    title: str
    description: str
    status: str
    assignee_id: str
    sprint_id: str
    position: int
    priority: str
    story_points: int
    parent_id: str
    update_parent: bool
    def __init__(self, work_item_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ..., assignee_id: _Optional[str] = ..., sprint_id: _Optional[str] = ..., position: _Optional[int] = ..., priority: _Optional[str] = ..., story_points: _Optional[int] = ..., parent_id: _Optional[str] = ..., update_parent: _Optional[bool] = ...) -> None: ...

class DeleteWorkItemRequest(_message.Message):
    __slots__ = ("work_item_id",)
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    def __init__(self, work_item_id: _Optional[str] = ...) -> None: ...

class GetWorkItemsRequest(_message.Message):
    __slots__ = ("project_id", "since_timestamp")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    since_timestamp: int
    def __init__(self, project_id: _Optional[str] = ..., since_timestamp: _Optional[int] = ...) -> None: ...

class WorkItemCreated(_message.Message):
    __slots__ = ("work_item", "user_id")
    WORK_ITEM_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    work_item: WorkItem
    user_id: str
    def __init__(self, work_item: _Optional[_Union[WorkItem, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class WorkItemUpdated(_message.Message):
    __slots__ = ("work_item", "changes", "user_id")
    WORK_ITEM_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    work_item: WorkItem
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    user_id: str
    def __init__(self, work_item: _Optional[_Union[WorkItem, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., user_id: _Optional[str] = ...) -> None: ...

class WorkItemDeleted(_message.Message):
    __slots__ = ("work_item_id", "user_id")
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    user_id: str
    def __init__(self, work_item_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class WorkItemsList(_message.Message):
    __slots__ = ("work_items", "as_of_timestamp")
    WORK_ITEMS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    work_items: _containers.RepeatedCompositeFieldContainer[WorkItem]
    as_of_timestamp: int
    def __init__(self, work_items: _Optional[_Iterable[_Union[WorkItem, _Mapping]]] = ..., as_of_timestamp: _Optional[int] = ...) -> None: ...

class CreateSprintRequest(_message.Message):
    __slots__ = ("project_id", "name", "goal", "start_date", "end_date")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    goal: str
    start_date: int
    end_date: int
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., goal: _Optional[str] = ..., start_date: _Optional[int] = ..., end_date: _Optional[int] = ...) -> None: ...

class UpdateSprintRequest(_message.Message):
    __slots__ = ("sprint_id", "expected_version", "name", "goal", "start_date", "end_date", "status")
    SPRINT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    sprint_id: str
    expected_version: int
    name: str
    goal: str
    start_date: int
    end_date: int
    status: SprintStatus
    def __init__(self, sprint_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., name: _Optional[str] = ..., goal: _Optional[str] = ..., start_date: _Optional[int] = ..., end_date: _Optional[int] = ..., status: _Optional[_Union[SprintStatus, str]] = ...) -> None: ...

class DeleteSprintRequest(_message.Message):
    __slots__ = ("sprint_id",)
    SPRINT_ID_FIELD_NUMBER: _ClassVar[int]
    sprint_id: str
    def __init__(self, sprint_id: _Optional[str] = ...) -> None: ...

class GetSprintsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class SprintCreated(_message.Message):
    __slots__ = ("sprint", "user_id")
    SPRINT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    sprint: Sprint
    user_id: str
    def __init__(self, sprint: _Optional[_Union[Sprint, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class SprintUpdated(_message.Message):
    __slots__ = ("sprint", "changes", "user_id")
    SPRINT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    sprint: Sprint
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    user_id: str
    def __init__(self, sprint: _Optional[_Union[Sprint, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., user_id: _Optional[str] = ...) -> None: ...

class SprintDeleted(_message.Message):
    __slots__ = ("sprint_id", "user_id")
    SPRINT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    sprint_id: str
    user_id: str
    def __init__(self, sprint_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class SprintsList(_message.Message):
    __slots__ = ("sprints",)
    SPRINTS_FIELD_NUMBER: _ClassVar[int]
    sprints: _containers.RepeatedCompositeFieldContainer[Sprint]
    def __init__(self, sprints: _Optional[_Iterable[_Union[Sprint, _Mapping]]] = ...) -> None: ...

class CreateCommentRequest(_message.Message):
    __slots__ = ("work_item_id", "content")
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    content: str
    def __init__(self, work_item_id: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class UpdateCommentRequest(_message.Message):
    __slots__ = ("comment_id", "content")
    COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    comment_id: str
    content: str
    def __init__(self, comment_id: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class DeleteCommentRequest(_message.Message):
    __slots__ = ("comment_id",)
    COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    comment_id: str
    def __init__(self, comment_id: _Optional[str] = ...) -> None: ...

class GetCommentsRequest(_message.Message):
    __slots__ = ("work_item_id",)
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    def __init__(self, work_item_id: _Optional[str] = ...) -> None: ...

class CommentCreated(_message.Message):
    __slots__ = ("comment", "user_id")
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    comment: Comment
    user_id: str
    def __init__(self, comment: _Optional[_Union[Comment, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class CommentUpdated(_message.Message):
    __slots__ = ("comment", "user_id")
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    comment: Comment
    user_id: str
    def __init__(self, comment: _Optional[_Union[Comment, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class CommentDeleted(_message.Message):
    __slots__ = ("comment_id", "user_id")
    COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    comment_id: str
    user_id: str
    def __init__(self, comment_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class CommentsList(_message.Message):
    __slots__ = ("comments",)
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    comments: _containers.RepeatedCompositeFieldContainer[Comment]
    def __init__(self, comments: _Optional[_Iterable[_Union[Comment, _Mapping]]] = ...) -> None: ...

class StartTimerRequest(_message.Message):
    __slots__ = ("work_item_id", "description")
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    description: str
    def __init__(self, work_item_id: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class StopTimerRequest(_message.Message):
    __slots__ = ("time_entry_id",)
    TIME_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    time_entry_id: str
    def __init__(self, time_entry_id: _Optional[str] = ...) -> None: ...

class CreateTimeEntryRequest(_message.Message):
    __slots__ = ("work_item_id", "started_at", "ended_at", "description")
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    started_at: int
    ended_at: int
    description: str
    def __init__(self, work_item_id: _Optional[str] = ..., started_at: _Optional[int] = ..., ended_at: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class UpdateTimeEntryRequest(_message.Message):
    __slots__ = ("time_entry_id", "started_at", "ended_at", "description")
    TIME_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    time_entry_id: str
    started_at: int
    ended_at: int
    description: str
    def __init__(self, time_entry_id: _Optional[str] = ..., started_at: _Optional[int] = ..., ended_at: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class DeleteTimeEntryRequest(_message.Message):
    __slots__ = ("time_entry_id",)
    TIME_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    time_entry_id: str
    def __init__(self, time_entry_id: _Optional[str] = ...) -> None: ...

class GetTimeEntriesRequest(_message.Message):
    __slots__ = ("work_item_id", "limit", "offset")
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    limit: int
    offset: int
    def __init__(self, work_item_id: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class GetRunningTimerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TimerStarted(_message.Message):
    __slots__ = ("time_entry", "user_id", "stopped_entry")
    TIME_ENTRY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STOPPED_ENTRY_FIELD_NUMBER: _ClassVar[int]
    time_entry: TimeEntry
    user_id: str
    stopped_entry: TimeEntry
    def __init__(self, time_entry: _Optional[_Union[TimeEntry, _Mapping]] = ..., user_id: _Optional[str] = ..., stopped_entry: _Optional[_Union[TimeEntry, _Mapping]] = ...) -> None: ...

class TimerStopped(_message.Message):
    __slots__ = ("time_entry", "user_id")
    TIME_ENTRY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    time_entry: TimeEntry
    user_id: str
    def __init__(self, time_entry: _Optional[_Union[TimeEntry, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class TimeEntryCreated(_message.Message):
    __slots__ = ("time_entry", "user_id")
    TIME_ENTRY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    time_entry: TimeEntry
    user_id: str
    def __init__(self, time_entry: _Optional[_Union[TimeEntry, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class TimeEntryUpdated(_message.Message):
    __slots__ = ("time_entry", "user_id")
    TIME_ENTRY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    time_entry: TimeEntry
    user_id: str
    def __init__(self, time_entry: _Optional[_Union[TimeEntry, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class TimeEntryDeleted(_message.Message):
    __slots__ = ("time_entry_id", "work_item_id", "user_id")
    TIME_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    time_entry_id: str
    work_item_id: str
    user_id: str
    def __init__(self, time_entry_id: _Optional[str] = ..., work_item_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class TimeEntriesList(_message.Message):
    __slots__ = ("time_entries", "total_count")
    TIME_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    time_entries: _containers.RepeatedCompositeFieldContainer[TimeEntry]
    total_count: int
    def __init__(self, time_entries: _Optional[_Iterable[_Union[TimeEntry, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class RunningTimerResponse(_message.Message):
    __slots__ = ("time_entry",)
    TIME_ENTRY_FIELD_NUMBER: _ClassVar[int]
    time_entry: TimeEntry
    def __init__(self, time_entry: _Optional[_Union[TimeEntry, _Mapping]] = ...) -> None: ...

class CreateDependencyRequest(_message.Message):
    __slots__ = ("blocking_item_id", "blocked_item_id", "dependency_type")
    BLOCKING_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_TYPE_FIELD_NUMBER: _ClassVar[int]
    blocking_item_id: str
    blocked_item_id: str
    dependency_type: DependencyType
    def __init__(self, blocking_item_id: _Optional[str] = ..., blocked_item_id: _Optional[str] = ..., dependency_type: _Optional[_Union[DependencyType, str]] = ...) -> None: ...

class DeleteDependencyRequest(_message.Message):
    __slots__ = ("dependency_id",)
    DEPENDENCY_ID_FIELD_NUMBER: _ClassVar[int]
    dependency_id: str
    def __init__(self, dependency_id: _Optional[str] = ...) -> None: ...

class GetDependenciesRequest(_message.Message):
    __slots__ = ("work_item_id",)
    WORK_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    work_item_id: str
    def __init__(self, work_item_id: _Optional[str] = ...) -> None: ...

class DependencyCreated(_message.Message):
    __slots__ = ("dependency", "user_id")
    DEPENDENCY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    dependency: Dependency
    user_id: str
    def __init__(self, dependency: _Optional[_Union[Dependency, _Mapping]] = ..., user_id: _Optional[str] = ...) -> None: ...

class DependencyDeleted(_message.Message):
    __slots__ = ("dependency_id", "blocking_item_id", "blocked_item_id", "user_id")
    DEPENDENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    dependency_id: str
    blocking_item_id: str
    blocked_item_id: str
    user_id: str
    def __init__(self, dependency_id: _Optional[str] = ..., blocking_item_id: _Optional[str] = ..., blocked_item_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class DependenciesList(_message.Message):
    __slots__ = ("blocking", "blocked")
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    blocking: _containers.RepeatedCompositeFieldContainer[Dependency]
    blocked: _containers.RepeatedCompositeFieldContainer[Dependency]
    def __init__(self, blocking: _Optional[_Iterable[_Union[Dependency, _Mapping]]] = ..., blocked: _Optional[_Iterable[_Union[Dependency, _Mapping]]] = ...) -> None: ...

class GetActivityLogRequest(_message.Message):
    __slots__ = ("entity_type", "entity_id", "limit", "offset")
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    entity_type: str
    entity_id: str
    limit: int
    offset: int
    def __init__(self, entity_type: _Optional[str] = ..., entity_id: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ActivityLogList(_message.Message):
    __slots__ = ("entries", "total_count", "has_more")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ActivityLogEntry]
    total_count: int
    has_more: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[ActivityLogEntry, _Mapping]]] = ..., total_count: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...

class ActivityLogCreated(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: ActivityLogEntry
    def __init__(self, entry: _Optional[_Union[ActivityLogEntry, _Mapping]] = ...) -> None: ...

class GetLlmContextRequest(_message.Message):
    __slots__ = ("category", "context_type", "min_priority")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    category: str
    context_type: str
    min_priority: int
    def __init__(self, category: _Optional[str] = ..., context_type: _Optional[str] = ..., min_priority: _Optional[int] = ...) -> None: ...

class LlmContextList(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LlmContextEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[LlmContextEntry, _Mapping]]] = ...) -> None: ...
