namespace Switchboard.Protocol;

// The client → server messages of the protocol (PROTOCOL.md, "Commands and results").
// Wire DTOs are grouped by direction rather than one per file: they are data, read together.

/// <summary>One client command: an id and exactly one request.</summary>
internal sealed class Command
{
    public uint Id { get; set; }
    public ConnectRequest? Connect { get; set; }
    public SubscribeRequest? Subscribe { get; set; }
    public UnsubscribeRequest? Unsubscribe { get; set; }
    public PublishRequest? Publish { get; set; }
    public PresenceRequest? Presence { get; set; }
    public PresenceStatsRequest? PresenceStats { get; set; }
    public HistoryRequest? History { get; set; }
    public RpcRequest? Rpc { get; set; }
    public RefreshRequest? Refresh { get; set; }
    public SubRefreshRequest? SubRefresh { get; set; }
    public SendRequest? Send { get; set; }

    /// <summary>
    /// Set by a binary codec when a data field is not one JSON value: the command is answered
    /// with a bad request (107) instead of being handled.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool InvalidData { get; set; }
}

internal sealed class ConnectRequest
{
    public string? Token { get; set; }
    public RawJson Data { get; set; }
    public Dictionary<string, SubscribeRequest>? Subs { get; set; }
    public string? Name { get; set; }
    public string? Version { get; set; }
    public Dictionary<string, string>? Headers { get; set; }
}

internal sealed class SubscribeRequest
{
    public string? Channel { get; set; }
    public string? Token { get; set; }
    public bool Recover { get; set; }
    public string? Epoch { get; set; }
    public ulong Offset { get; set; }
    public RawJson Data { get; set; }
    public bool Positioned { get; set; }
    public bool Recoverable { get; set; }
    public bool JoinLeave { get; set; }
    public string? Delta { get; set; }
}

internal sealed class UnsubscribeRequest
{
    public string? Channel { get; set; }
}

internal sealed class PublishRequest
{
    public string? Channel { get; set; }
    public RawJson Data { get; set; }
}

internal sealed class PresenceRequest
{
    public string? Channel { get; set; }
}

internal sealed class PresenceStatsRequest
{
    public string? Channel { get; set; }
}

internal sealed class HistoryRequest
{
    public string? Channel { get; set; }
    public int Limit { get; set; }
    public StreamPosition? Since { get; set; }
    public bool Reverse { get; set; }
}

internal sealed class RpcRequest
{
    public string? Method { get; set; }
    public RawJson Data { get; set; }
}

internal sealed class RefreshRequest
{
    public string? Token { get; set; }
}

internal sealed class SubRefreshRequest
{
    public string? Channel { get; set; }
    public string? Token { get; set; }
}

internal sealed class SendRequest
{
    public RawJson Data { get; set; }
}
