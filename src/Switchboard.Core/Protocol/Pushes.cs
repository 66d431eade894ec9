namespace Switchboard.Protocol;

/// <summary>An asynchronous message for a client: exactly one of the typed fields is set.</summary>
internal sealed class Push
{
    public string? Channel { get; set; }
    public Publication? Pub { get; set; }
    public JoinPush? Join { get; set; }
    public LeavePush? Leave { get; set; }
    public UnsubscribePush? Unsubscribe { get; set; }
    public MessagePush? Message { get; set; }
    public SubscribePush? Subscribe { get; set; }
    public ConnectResult? Connect { get; set; }
    public DisconnectPush? Disconnect { get; set; }
    public RefreshPush? Refresh { get; set; }
}

internal sealed class JoinPush
{
    public ClientInfo? Info { get; set; }
}

internal sealed class LeavePush
{
    public ClientInfo? Info { get; set; }
}

internal sealed class UnsubscribePush
{
    public uint Code { get; set; }
    public string? Reason { get; set; }
}

internal sealed class MessagePush
{
    public RawJson Data { get; set; }
}

internal sealed class SubscribePush
{
    public bool Recoverable { get; set; }
    public string? Epoch { get; set; }
    public ulong Offset { get; set; }
    public bool Positioned { get; set; }
    public RawJson Data { get; set; }
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
}

internal sealed class DisconnectPush
{
    public uint Code { get; set; }
    public string? Reason { get; set; }
    public bool Reconnect { get; set; }
}

internal sealed class RefreshPush
{
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
}
