using System.Text.Json;

namespace Switchboard.Client.Protocol;

// The wire messages of the JSON protocol, as this client writes and reads them. Data and info
// fields are JsonElement: the JSON protocol carries them as raw JSON values.

/// <summary>One command: an id (0 only for send) and exactly one request.</summary>
internal sealed class Command
{
    public uint Id { get; set; }
    public ConnectRequest? Connect { get; set; }
    public SubscribeRequest? Subscribe { get; set; }
    public ChannelRequest? Unsubscribe { get; set; }
    public PublishRequest? Publish { get; set; }
    public ChannelRequest? Presence { get; set; }
    public ChannelRequest? PresenceStats { get; set; }
    public HistoryRequest? History { get; set; }
    public RpcRequest? Rpc { get; set; }
    public RefreshRequest? Refresh { get; set; }
    public SubRefreshRequest? SubRefresh { get; set; }
    public SendRequest? Send { get; set; }
}

internal sealed class ConnectRequest
{
    public string? Token { get; set; }
    public JsonElement? Data { get; set; }
    public string? Name { get; set; }
    public string? Version { get; set; }
}

internal sealed class SubscribeRequest
{
    public string? Channel { get; set; }
    public string? Token { get; set; }
    public bool Recover { get; set; }
    public string? Epoch { get; set; }
    public ulong Offset { get; set; }
    public JsonElement? Data { get; set; }
    public bool Positioned { get; set; }
    public bool Recoverable { get; set; }
    public bool JoinLeave { get; set; }
}

internal sealed class ChannelRequest
{
    public string? Channel { get; set; }
}

internal sealed class PublishRequest
{
    public string? Channel { get; set; }
    public JsonElement? Data { get; set; }
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
    public JsonElement? Data { get; set; }
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
    public JsonElement? Data { get; set; }
}

/// <summary>A reply (id &gt; 0), a push (<see cref="Push"/> set) or a ping (neither).</summary>
internal sealed class Reply
{
    public uint Id { get; set; }
    public WireError? Error { get; set; }
    public Push? Push { get; set; }
    public ConnectResult? Connect { get; set; }
    public SubscribeResult? Subscribe { get; set; }
    public HistoryResult? History { get; set; }
    public PresenceResult? Presence { get; set; }
    public PresenceStats? PresenceStats { get; set; }
    public RpcResult? Rpc { get; set; }
    public RefreshResult? Refresh { get; set; }
    public RefreshResult? SubRefresh { get; set; }
}

internal sealed class WireError
{
    public uint Code { get; set; }
    public string? Message { get; set; }
    public bool Temporary { get; set; }
}

internal sealed class ConnectResult
{
    public string? Client { get; set; }
    public string? Version { get; set; }
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
    public JsonElement? Data { get; set; }
    public uint Ping { get; set; }
    public bool Pong { get; set; }
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
    public JsonElement? Data { get; set; }
    public bool WasRecovering { get; set; }
}

internal sealed class RpcResult
{
    public JsonElement? Data { get; set; }
}

internal sealed class RefreshResult
{
    public bool Expires { get; set; }
    public uint Ttl { get; set; }
}

internal sealed class Push
{
    public string? Channel { get; set; }
    public Publication? Pub { get; set; }
    public InfoPush? Join { get; set; }
    public InfoPush? Leave { get; set; }
    public UnsubscribePush? Unsubscribe { get; set; }
    public MessagePush? Message { get; set; }
    public DisconnectPush? Disconnect { get; set; }
    public RefreshResult? Refresh { get; set; }
}

internal sealed class InfoPush
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
    public JsonElement? Data { get; set; }
}

internal sealed class DisconnectPush
{
    public uint Code { get; set; }
    public string? Reason { get; set; }
    public bool Reconnect { get; set; }
}
