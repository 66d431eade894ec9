using System.Text.Json.Serialization;
using Switchboard.Protocol;

namespace Switchboard.Api;

// Request and result bodies of the server HTTP API (POST /api/<method>), named as Centrifugo names them.

/// <summary>publish: one publication into one channel.</summary>
public sealed class PublishApiRequest
{
    /// <summary>The channel.</summary>
    public string? Channel { get; set; }
    /// <summary>The payload (any JSON value).</summary>
    public RawJson Data { get; set; }
    /// <summary>Do not keep this publication in history.</summary>
    public bool SkipHistory { get; set; }
    /// <summary>Tags delivered with the publication.</summary>
    public Dictionary<string, string>? Tags { get; set; }
    /// <summary>A repeat of this key within 5 minutes returns the first result and publishes nothing.</summary>
    public string? IdempotencyKey { get; set; }
}

/// <summary>The stream position a publication got.</summary>
public sealed class PublishApiResult
{
    /// <summary>Its offset (0 without history).</summary>
    public ulong Offset { get; set; }
    /// <summary>The stream's epoch (empty without history).</summary>
    public string? Epoch { get; set; }
}

/// <summary>broadcast: the same publication into several channels.</summary>
public sealed class BroadcastApiRequest
{
    /// <summary>The channels.</summary>
    public List<string>? Channels { get; set; }
    /// <summary>The payload.</summary>
    public RawJson Data { get; set; }
    /// <summary>Do not keep history.</summary>
    public bool SkipHistory { get; set; }
    /// <summary>Tags.</summary>
    public Dictionary<string, string>? Tags { get; set; }
    /// <summary>Idempotency key, applied per channel.</summary>
    public string? IdempotencyKey { get; set; }
}

/// <summary>One answer per channel of a broadcast, in order.</summary>
public sealed class BroadcastApiResult
{
    /// <summary>The answers.</summary>
    public List<ApiResponse<PublishApiResult>> Responses { get; set; } = [];
}

/// <summary>subscribe: subscribe a user's connections (or one) to a channel from the server side.</summary>
public sealed class SubscribeApiRequest
{
    /// <summary>The user.</summary>
    public string? User { get; set; }
    /// <summary>The channel.</summary>
    public string? Channel { get; set; }
    /// <summary>Only this connection of the user.</summary>
    public string? Client { get; set; }
    /// <summary>Channel info attached to the subscription.</summary>
    public RawJson Info { get; set; }
    /// <summary>Data sent to the client in the subscribe push.</summary>
    public RawJson Data { get; set; }
}

/// <summary>unsubscribe: end a user's subscriptions to a channel.</summary>
public sealed class UnsubscribeApiRequest
{
    /// <summary>The user.</summary>
    public string? User { get; set; }
    /// <summary>The channel.</summary>
    public string? Channel { get; set; }
    /// <summary>Only this connection of the user.</summary>
    public string? Client { get; set; }
}

/// <summary>A disconnect code and reason.</summary>
public sealed class DisconnectSpec
{
    /// <summary>The code (3000–4999).</summary>
    public uint Code { get; set; }
    /// <summary>The reason (under 123 bytes).</summary>
    public string? Reason { get; set; }
}

/// <summary>disconnect: close a user's connections.</summary>
public sealed class DisconnectApiRequest
{
    /// <summary>The user.</summary>
    public string? User { get; set; }
    /// <summary>Only this connection.</summary>
    public string? Client { get; set; }
    /// <summary>Connections to spare.</summary>
    public List<string>? Whitelist { get; set; }
    /// <summary>The code and reason; 3503 "force disconnect" by default.</summary>
    public DisconnectSpec? Disconnect { get; set; }
}

/// <summary>refresh: change a user's connection expiry.</summary>
public sealed class RefreshApiRequest
{
    /// <summary>The user.</summary>
    public string? User { get; set; }
    /// <summary>Only this connection.</summary>
    public string? Client { get; set; }
    /// <summary>Expire the connections now (3005).</summary>
    public bool Expired { get; set; }
    /// <summary>New expiry as Unix seconds; 0 removes the expiry.</summary>
    public long ExpireAt { get; set; }
}

/// <summary>revoke_token: refuse one token, by its <c>jti</c>, on every node.</summary>
public sealed class RevokeTokenApiRequest
{
    /// <summary>The token's <c>jti</c>.</summary>
    public string? Jti { get; set; }
    /// <summary>Unix seconds until which the token is refused: its <c>exp</c> is enough. 0: 30 days from now.</summary>
    public long ExpireAt { get; set; }
}

/// <summary>invalidate_user_tokens: refuse a user's tokens issued before a time, and disconnect the user everywhere.</summary>
public sealed class InvalidateUserTokensApiRequest
{
    /// <summary>The user.</summary>
    public string? User { get; set; }
    /// <summary>Unix seconds: tokens with an earlier <c>iat</c> (or none) are refused. 0: the end of the current second (now + 1).</summary>
    public long IssuedBefore { get; set; }
    /// <summary>Unix seconds until which this is remembered: the latest <c>exp</c> of those tokens is enough. 0: 30 days from now.</summary>
    public long ExpireAt { get; set; }
}

/// <summary>send (in-process only): an asynchronous message to a user's connections or to one connection.</summary>
public sealed class SendApiRequest
{
    /// <summary>The user; when null, <see cref="Client"/> alone names the connection.</summary>
    public string? User { get; set; }
    /// <summary>Only this connection.</summary>
    public string? Client { get; set; }
    /// <summary>The message (any JSON value).</summary>
    public RawJson Data { get; set; }
}

/// <summary>A request naming one channel (presence, presence_stats, history_remove).</summary>
public sealed class ChannelApiRequest
{
    /// <summary>The channel.</summary>
    public string? Channel { get; set; }
}

/// <summary>Who is in a channel.</summary>
public sealed class PresenceApiResult
{
    /// <summary>Entries by client id.</summary>
    public Dictionary<string, ClientInfo> Presence { get; set; } = [];
}

/// <summary>Counts of a channel's presence.</summary>
public sealed class PresenceStatsApiResult
{
    /// <summary>Connections.</summary>
    public int NumClients { get; set; }
    /// <summary>Distinct users.</summary>
    public int NumUsers { get; set; }
}

/// <summary>history: read a channel's stream.</summary>
public sealed class HistoryApiRequest
{
    /// <summary>The channel.</summary>
    public string? Channel { get; set; }
    /// <summary>Most publications; 0 returns only the position; negative returns up to the server maximum.</summary>
    public int Limit { get; set; }
    /// <summary>Read after (or, reversed, before) this position.</summary>
    public StreamPosition? Since { get; set; }
    /// <summary>Newest first.</summary>
    public bool Reverse { get; set; }
}

/// <summary>Publications and the stream's position.</summary>
public sealed class HistoryApiResult
{
    /// <summary>The publications.</summary>
    public List<Publication> Publications { get; set; } = [];
    /// <summary>The stream's top offset.</summary>
    public ulong Offset { get; set; }
    /// <summary>The stream's epoch.</summary>
    public string? Epoch { get; set; }
}

/// <summary>channels: active channels (with subscribers), optionally filtered.</summary>
public sealed class ChannelsApiRequest
{
    /// <summary>A glob pattern (<c>*</c> any run, <c>?</c> one character).</summary>
    public string? Pattern { get; set; }
}

/// <summary>Active channels.</summary>
public sealed class ChannelsApiResult
{
    /// <summary>Channel → counts.</summary>
    public Dictionary<string, ChannelInfo> Channels { get; set; } = [];
}

/// <summary>Counts of one channel.</summary>
public sealed class ChannelInfo
{
    /// <summary>Subscribed connections.</summary>
    public int NumClients { get; set; }
}

/// <summary>info: the nodes of the cluster.</summary>
public sealed class InfoApiResult
{
    /// <summary>The nodes.</summary>
    public List<NodeInfo> Nodes { get; set; } = [];
}

/// <summary>One node.</summary>
public sealed class NodeInfo
{
    /// <summary>Unique id of this process.</summary>
    public string Uid { get; set; } = "";
    /// <summary>Node name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Server version.</summary>
    public string Version { get; set; } = "";
    /// <summary>Connected clients.</summary>
    public int NumClients { get; set; }
    /// <summary>Distinct users.</summary>
    public int NumUsers { get; set; }
    /// <summary>Channels with subscribers.</summary>
    public int NumChannels { get; set; }
    /// <summary>Subscriptions.</summary>
    public int NumSubs { get; set; }
    /// <summary>Seconds since start.</summary>
    public long Uptime { get; set; }
}

/// <summary>An empty request or result.</summary>
public sealed class EmptyApiMessage;

/// <summary>batch: several commands in one request.</summary>
public sealed class BatchApiRequest
{
    /// <summary>The commands, each an object with one method key.</summary>
    public List<BatchCommand> Commands { get; set; } = [];
    /// <summary>Run them concurrently (order of effects not kept) rather than one after another.</summary>
    public bool Parallel { get; set; }
}

/// <summary>One command of a batch: exactly one field set.</summary>
public sealed class BatchCommand
{
#pragma warning disable CS1591 // the fields are the methods above
    public PublishApiRequest? Publish { get; set; }
    public BroadcastApiRequest? Broadcast { get; set; }
    public SubscribeApiRequest? Subscribe { get; set; }
    public UnsubscribeApiRequest? Unsubscribe { get; set; }
    public DisconnectApiRequest? Disconnect { get; set; }
    public RefreshApiRequest? Refresh { get; set; }
    public ChannelApiRequest? Presence { get; set; }
    public ChannelApiRequest? PresenceStats { get; set; }
    public HistoryApiRequest? History { get; set; }
    public ChannelApiRequest? HistoryRemove { get; set; }
    public ChannelsApiRequest? Channels { get; set; }
    public EmptyApiMessage? Info { get; set; }
    public RevokeTokenApiRequest? RevokeToken { get; set; }
    public InvalidateUserTokensApiRequest? InvalidateUserTokens { get; set; }
#pragma warning restore CS1591
}

/// <summary>The replies of a batch, in command order.</summary>
public sealed class BatchApiResult
{
    /// <summary>One reply per command.</summary>
    public List<BatchReply> Replies { get; set; } = [];
}

/// <summary>One reply of a batch: the method's result under its name, or an error.</summary>
public sealed class BatchReply
{
#pragma warning disable CS1591
    public Error? Error { get; set; }
    public PublishApiResult? Publish { get; set; }
    public BroadcastApiResult? Broadcast { get; set; }
    public EmptyApiMessage? Subscribe { get; set; }
    public EmptyApiMessage? Unsubscribe { get; set; }
    public EmptyApiMessage? Disconnect { get; set; }
    public EmptyApiMessage? Refresh { get; set; }
    public PresenceApiResult? Presence { get; set; }
    public PresenceStatsApiResult? PresenceStats { get; set; }
    public HistoryApiResult? History { get; set; }
    public EmptyApiMessage? HistoryRemove { get; set; }
    public ChannelsApiResult? Channels { get; set; }
    public InfoApiResult? Info { get; set; }
    public EmptyApiMessage? RevokeToken { get; set; }
    public EmptyApiMessage? InvalidateUserTokens { get; set; }
#pragma warning restore CS1591
}

/// <summary>The API envelope: <c>{"result": …}</c> or <c>{"error": {code, message}}</c>.</summary>
public sealed class ApiResponse<T>
{
    /// <summary>The result on success.</summary>
    public T? Result { get; set; }
    /// <summary>The error on failure.</summary>
    public Error? Error { get; set; }
}

/// <summary>Source-generated JSON for the API.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    AllowDuplicateProperties = false,
    MaxDepth = 64)]
[JsonSerializable(typeof(PublishApiRequest))]
[JsonSerializable(typeof(BroadcastApiRequest))]
[JsonSerializable(typeof(SubscribeApiRequest))]
[JsonSerializable(typeof(UnsubscribeApiRequest))]
[JsonSerializable(typeof(DisconnectApiRequest))]
[JsonSerializable(typeof(RefreshApiRequest))]
[JsonSerializable(typeof(RevokeTokenApiRequest))]
[JsonSerializable(typeof(InvalidateUserTokensApiRequest))]
[JsonSerializable(typeof(ChannelApiRequest))]
[JsonSerializable(typeof(HistoryApiRequest))]
[JsonSerializable(typeof(ChannelsApiRequest))]
[JsonSerializable(typeof(EmptyApiMessage))]
[JsonSerializable(typeof(BatchApiRequest))]
[JsonSerializable(typeof(ApiResponse<PublishApiResult>))]
[JsonSerializable(typeof(ApiResponse<BroadcastApiResult>))]
[JsonSerializable(typeof(ApiResponse<EmptyApiMessage>))]
[JsonSerializable(typeof(ApiResponse<PresenceApiResult>))]
[JsonSerializable(typeof(ApiResponse<PresenceStatsApiResult>))]
[JsonSerializable(typeof(ApiResponse<HistoryApiResult>))]
[JsonSerializable(typeof(ApiResponse<ChannelsApiResult>))]
[JsonSerializable(typeof(ApiResponse<InfoApiResult>))]
[JsonSerializable(typeof(ApiResponse<BatchApiResult>))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
