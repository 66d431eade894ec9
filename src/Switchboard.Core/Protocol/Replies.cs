namespace Switchboard.Protocol;

// The server → client messages: replies (with an id) and pushes (without).

/// <summary>A reply to a command, or a push when <see cref="Push"/> is set.</summary>
internal sealed class Reply
{
    public uint Id { get; set; }
    public Error? Error { get; set; }
    public Push? Push { get; set; }
    public ConnectResult? Connect { get; set; }
    public SubscribeResult? Subscribe { get; set; }
    public UnsubscribeResult? Unsubscribe { get; set; }
    public PublishResult? Publish { get; set; }
    public PresenceResult? Presence { get; set; }
    public PresenceStatsResult? PresenceStats { get; set; }
    public HistoryResult? History { get; set; }
    public RpcResult? Rpc { get; set; }
    public RefreshResult? Refresh { get; set; }
    public SubRefreshResult? SubRefresh { get; set; }
}

/// <summary>An error answer: a code from <see cref="ErrorCodes"/>.</summary>
public sealed class Error
{
    /// <summary>The protocol error code.</summary>
    public uint Code { get; set; }

    /// <summary>A short human-readable message.</summary>
    public string Message { get; set; } = "";

    /// <summary>True when the client may retry.</summary>
    public bool Temporary { get; set; }
}

internal sealed class ConnectResult
{
    public string? Client { get; set; }
    public string? Version { get; set; }
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
    public RawJson Data { get; set; }
    public Dictionary<string, SubscribeResult>? Subs { get; set; }
    public uint Ping { get; set; }
    public bool Pong { get; set; }
    public string? Session { get; set; }
    public string? Node { get; set; }
    public long Time { get; set; }
}

internal sealed class SubscribeResult
{
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
    public bool Recoverable { get; set; }
    public string? Epoch { get; set; }
    public List<Publication>? Publications { get; set; }
    public bool Recovered { get; set; }
    public ulong Offset { get; set; }
    public bool Positioned { get; set; }
    public RawJson Data { get; set; }
    public bool WasRecovering { get; set; }
    public bool Delta { get; set; }
}

internal sealed class UnsubscribeResult;

internal sealed class PublishResult;

internal sealed class PresenceResult
{
    public Dictionary<string, ClientInfo> Presence { get; set; } = [];
}

internal sealed class PresenceStatsResult
{
    public uint NumClients { get; set; }
    public uint NumUsers { get; set; }
}

internal sealed class HistoryResult
{
    public List<Publication>? Publications { get; set; }
    public string? Epoch { get; set; }
    public ulong Offset { get; set; }
}

internal sealed class RpcResult
{
    public RawJson Data { get; set; }
}

internal sealed class RefreshResult
{
    public string? Client { get; set; }
    public string? Version { get; set; }
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
}

internal sealed class SubRefreshResult
{
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
}
