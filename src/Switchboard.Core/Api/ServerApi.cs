using System.Text;
using System.Text.RegularExpressions;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Api;

/// <summary>
/// The server API's behaviour, independent of HTTP: the HTTP endpoints call it, and in-process
/// apps (resolve it from the services) call it the same way. Errors are thrown as
/// <see cref="ProtocolException"/> with the API's error codes.
/// </summary>
public sealed partial class ServerApi
{
    private readonly Node node;

    internal ServerApi(Node node)
    {
        this.node = node;
        node.Cluster.OnCommand(OnClusterCommand);
    }

    // A command another node's API sent: applied to this node's connections of the user.
    private void OnClusterCommand(ControlMessage message) => _ = ApplyClusterCommandAsync(message);

    private async Task ApplyClusterCommandAsync(ControlMessage message)
    {
        try
        {
            await (message switch
            {
                { Disconnect: { User: not null } r } => DisconnectLocal(r),
                { Refresh: { User: not null } r } => RefreshLocal(r),
                { Unsubscribe: { User: not null } r } => UnsubscribeLocalAsync(r, CancellationToken.None),
                { Subscribe: { User: not null } r } => SubscribeLocalAsync(r, CancellationToken.None),
                _ => Task.CompletedTask,
            }).ConfigureAwait(false);
        }
        catch (ProtocolException e)
        {
            // Checked on the sending node already; here only the engine can fail.
            Log.ClusterCommandFailed(node.Logger, e.Message);
        }
    }

    /// <summary>Publishes into a channel; returns the stream position the publication got.</summary>
    public async Task<PublishApiResult> PublishAsync(PublishApiRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var rule = node.Policy.Resolve(request.Channel);
        if (request.Data.IsEmpty)
        {
            throw ProtocolException.BadRequest("data required");
        }
        if (request.Data.Utf8.Length > node.Options.Client.MaxPublicationBytes)
        {
            throw new ProtocolException(ErrorCodes.LimitExceeded, "publication data too large");
        }
        if (request.Data.Depth() > RawJson.MaxDataDepth)
        {
            throw ProtocolException.BadRequest("publication data nested too deep");
        }
        var publication = new Publication { Data = request.Data, Tags = request.Tags };
        var outcome = await node.Broker.PublishAsync(rule.Channel, publication, rule.PublishOptions(request.SkipHistory, request.IdempotencyKey) with
        {
            IdempotentResultTtl = node.Options.Client.IdempotentResultTtl,
        }, ct).ConfigureAwait(false);
        if (!outcome.Suppressed)
        {
            node.Metrics.PublicationIn("api");
        }
        return new PublishApiResult
        {
            Offset = outcome.Position.Offset,
            Epoch = string.IsNullOrEmpty(outcome.Position.Epoch) ? null : outcome.Position.Epoch,
        };
    }

    /// <summary>Publishes the same data into several channels; one answer per channel.</summary>
    public async Task<BroadcastApiResult> BroadcastAsync(BroadcastApiRequest request, CancellationToken ct)
    {
        if (request.Channels is not { Count: > 0 })
        {
            throw ProtocolException.BadRequest("channels required");
        }
        if (request.Data.IsEmpty)
        {
            throw ProtocolException.BadRequest("data required");
        }
        var result = new BroadcastApiResult();
        foreach (var channel in request.Channels)
        {
            try
            {
                var published = await PublishAsync(new PublishApiRequest
                {
                    Channel = channel,
                    Data = request.Data,
                    SkipHistory = request.SkipHistory,
                    Tags = request.Tags,
                    IdempotencyKey = request.IdempotencyKey,
                }, ct).ConfigureAwait(false);
                result.Responses.Add(new ApiResponse<PublishApiResult> { Result = published });
            }
            catch (ProtocolException e)
            {
                result.Responses.Add(new ApiResponse<PublishApiResult> { Error = e.ToError() });
            }
        }
        return result;
    }

    /// <summary>Subscribes a user's connections (or one of them) to a channel from the server side.</summary>
    public async Task<EmptyApiMessage> SubscribeAsync(SubscribeApiRequest request, CancellationToken ct)
    {
        RequireUser(request.User);
        node.Policy.Resolve(request.Channel);
        await node.Cluster.SendCommandAsync(new ControlMessage { Subscribe = request }, ct).ConfigureAwait(false);
        await SubscribeLocalAsync(request, ct).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    private async Task SubscribeLocalAsync(SubscribeApiRequest request, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(request.Channel);
        foreach (var client in TargetClients(request.User!, request.Client))
        {
            await client.SubscribeFromServerAsync(rule.Channel, request.Info, request.Data, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Unsubscribes a user's connections (or one) from a channel, with unsubscribe code 2000.</summary>
    public async Task<EmptyApiMessage> UnsubscribeAsync(UnsubscribeApiRequest request, CancellationToken ct)
    {
        RequireUser(request.User);
        node.Policy.Resolve(request.Channel);
        await node.Cluster.SendCommandAsync(new ControlMessage { Unsubscribe = request }, ct).ConfigureAwait(false);
        await UnsubscribeLocalAsync(request, ct).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    private async Task UnsubscribeLocalAsync(UnsubscribeApiRequest request, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(request.Channel);
        foreach (var client in TargetClients(request.User!, request.Client))
        {
            await client.UnsubscribeFromServerAsync(rule.Channel, UnsubscribeCodes.Server, "server unsubscribe", ct).ConfigureAwait(false);
        }
    }

    /// <summary>Disconnects a user's connections (or one) with a code, 3503 by default.</summary>
    public async Task<EmptyApiMessage> DisconnectAsync(DisconnectApiRequest request, CancellationToken ct)
    {
        RequireUser(request.User);
        DisconnectFor(request);
        await node.Cluster.SendCommandAsync(new ControlMessage { Disconnect = request }, ct).ConfigureAwait(false);
        await DisconnectLocal(request).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    private static Disconnect DisconnectFor(DisconnectApiRequest request)
    {
        var disconnect = Protocol.Disconnect.ForceNoReconnect;
        if (request.Disconnect is { } spec)
        {
            if (spec.Code is < 3000 or > 4999)
            {
                throw ProtocolException.BadRequest("disconnect code must be within 3000-4999");
            }
            var reason = spec.Reason ?? "";
            if (Encoding.UTF8.GetByteCount(reason) > 122)
            {
                throw ProtocolException.BadRequest("disconnect reason must be under 123 bytes");
            }
            disconnect = new Disconnect((ushort)spec.Code, reason);
        }
        return disconnect;
    }

    private Task DisconnectLocal(DisconnectApiRequest request)
    {
        var disconnect = DisconnectFor(request);
        var spare = request.Whitelist is null ? null : new HashSet<string>(request.Whitelist, StringComparer.Ordinal);
        foreach (var client in TargetClients(request.User!, request.Client))
        {
            if (spare is null || !spare.Contains(client.Id))
            {
                client.Disconnect(disconnect);
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>Sets a new expiry for a user's connections, or expires them now (3005).</summary>
    public async Task<EmptyApiMessage> RefreshAsync(RefreshApiRequest request, CancellationToken ct)
    {
        RequireUser(request.User);
        await node.Cluster.SendCommandAsync(new ControlMessage { Refresh = request }, ct).ConfigureAwait(false);
        await RefreshLocal(request).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    private Task RefreshLocal(RefreshApiRequest request)
    {
        foreach (var client in TargetClients(request.User!, request.Client))
        {
            if (request.Expired)
            {
                client.Disconnect(Protocol.Disconnect.Expired);
            }
            else
            {
                client.ApplyServerRefresh(request.ExpireAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(request.ExpireAt) : null);
            }
        }
        return Task.CompletedTask;
    }

    private static readonly TimeSpan DefaultRevocationLife = TimeSpan.FromDays(30);

    /// <summary>
    /// Refuses the token with this <c>jti</c> on every node (connect, refresh and subscription
    /// tokens) until <see cref="RevokeTokenApiRequest.ExpireAt"/>. Connections already open with
    /// it stay until their next refresh.
    /// </summary>
    public async Task<EmptyApiMessage> RevokeTokenAsync(RevokeTokenApiRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(request.Jti))
        {
            throw ProtocolException.BadRequest("jti required");
        }
        var now = node.Time.GetUtcNow();
        var until = request.ExpireAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(request.ExpireAt) : now + DefaultRevocationLife;
        await Revocations().RevokeTokenAsync(request.Jti, until, ct).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    /// <summary>
    /// Refuses a user's tokens issued (<c>iat</c>) before a time (by default the end of the current
    /// second), or without <c>iat</c>, on every node, and
    /// disconnects the user's connections everywhere (3503, no reconnect): they come back only
    /// with a token issued since.
    /// </summary>
    public async Task<EmptyApiMessage> InvalidateUserTokensAsync(InvalidateUserTokensApiRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var user = RequireUser(request.User);
        if (user.Length == 0)
        {
            throw ProtocolException.BadRequest("user required");
        }
        var now = node.Time.GetUtcNow();
        // iat has whole seconds: by default every token issued up to the end of this second goes,
        // including one issued a moment before this call; new tokens are good from the next second.
        var before = DateTimeOffset.FromUnixTimeSeconds(request.IssuedBefore > 0 ? request.IssuedBefore : now.ToUnixTimeSeconds() + 1);
        var until = request.ExpireAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(request.ExpireAt) : now + DefaultRevocationLife;
        // Stored first, so a disconnected client that reconnects at once is already refused.
        await Revocations().InvalidateUserTokensAsync(user, before, until, ct).ConfigureAwait(false);
        await DisconnectAsync(new DisconnectApiRequest { User = user }, ct).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    private Engine.ITokenRevocationStore Revocations()
        => node.Tokens.Revocations ?? throw ProtocolException.NotAvailable();

    /// <summary>Who is subscribed to a channel.</summary>
    public async Task<PresenceApiResult> PresenceAsync(ChannelApiRequest request, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(request.Channel);
        if (!rule.Options.Presence)
        {
            throw ProtocolException.NotAvailable();
        }
        var presence = await node.Presence.PresenceAsync(rule.Channel, ct).ConfigureAwait(false);
        return new PresenceApiResult { Presence = new Dictionary<string, ClientInfo>(presence, StringComparer.Ordinal) };
    }

    /// <summary>How many clients and distinct users are subscribed to a channel.</summary>
    public async Task<PresenceStatsApiResult> PresenceStatsAsync(ChannelApiRequest request, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(request.Channel);
        if (!rule.Options.Presence)
        {
            throw ProtocolException.NotAvailable();
        }
        var stats = await node.Presence.PresenceStatsAsync(rule.Channel, ct).ConfigureAwait(false);
        return new PresenceStatsApiResult { NumClients = stats.NumClients, NumUsers = stats.NumUsers };
    }

    /// <summary>Reads a channel's history.</summary>
    public async Task<HistoryApiResult> HistoryAsync(HistoryApiRequest request, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(request.Channel);
        if (!rule.Options.HasHistory)
        {
            throw ProtocolException.NotAvailable();
        }
        var page = await node.ReadHistoryAsync(rule, request.Limit, request.Since, request.Reverse, ct).ConfigureAwait(false);
        return new HistoryApiResult { Publications = [.. page.Publications], Offset = page.Position.Offset, Epoch = page.Position.Epoch };
    }

    /// <summary>Removes a channel's publications (its epoch and top offset stay).</summary>
    public async Task<EmptyApiMessage> HistoryRemoveAsync(ChannelApiRequest request, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(request.Channel);
        await node.Broker.RemoveHistoryAsync(rule.Channel, ct).ConfigureAwait(false);
        return new EmptyApiMessage();
    }

    /// <summary>Channels with subscribers on any live node (summed), filtered by a glob pattern.</summary>
    public async Task<ChannelsApiResult> ChannelsAsync(ChannelsApiRequest request, CancellationToken ct)
    {
        var pattern = string.IsNullOrEmpty(request.Pattern) ? null : GlobToRegex(request.Pattern);
        var counts = node.Hub.Channels();
        foreach (var answer in await node.Cluster.SurveyChannelsAsync(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false))
        {
            foreach (var (channel, count) in answer)
            {
                counts[channel] = counts.GetValueOrDefault(channel) + count;
            }
        }
        var result = new ChannelsApiResult();
        foreach (var (channel, count) in counts)
        {
            if (pattern is null || pattern.IsMatch(channel))
            {
                result.Channels[channel] = new ChannelInfo { NumClients = count };
            }
        }
        return result;
    }

    /// <summary>Every live node of the cluster and its counts.</summary>
    public Task<InfoApiResult> InfoAsync(CancellationToken ct)
        => Task.FromResult(new InfoApiResult { Nodes = node.Cluster.Nodes() });

    /// <summary>
    /// Sends an asynchronous message (a <c>message</c> push, which the client SDKs surface as a
    /// <c>message</c> event) to a user's connections, or to one connection. In-process only:
    /// Centrifugo's HTTP API has no such method.
    /// </summary>
    public Task<EmptyApiMessage> SendAsync(SendApiRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Data.IsEmpty)
        {
            throw ProtocolException.BadRequest("data required");
        }
        IEnumerable<Client> targets = request.User is null
            ? request.Client is { Length: > 0 } id && node.Hub.FindClient(id) is { } one ? [one] : []
            : TargetClients(request.User, request.Client);
        var push = new OutboundPush(new Push { Message = new MessagePush { Data = request.Data } });
        foreach (var client in targets)
        {
            client.Enqueue(push.For(client.Codec));
        }
        return Task.FromResult(new EmptyApiMessage());
    }

    /// <summary>Runs several commands, in order or in parallel; one reply per command.</summary>
    public async Task<BatchApiResult> BatchAsync(BatchApiRequest request, CancellationToken ct)
    {
        if (request.Commands.Count > 1000)
        {
            throw ProtocolException.BadRequest("at most 1000 commands in a batch");
        }
        if (request.Parallel)
        {
            var replies = await Task.WhenAll(request.Commands.Select(c => RunBatchCommandAsync(c, ct))).ConfigureAwait(false);
            return new BatchApiResult { Replies = [.. replies] };
        }
        var result = new BatchApiResult();
        foreach (var command in request.Commands)
        {
            result.Replies.Add(await RunBatchCommandAsync(command, ct).ConfigureAwait(false));
        }
        return result;
    }

    private async Task<BatchReply> RunBatchCommandAsync(BatchCommand c, CancellationToken ct)
    {
        try
        {
            return c switch
            {
                { Publish: { } r } => new BatchReply { Publish = await PublishAsync(r, ct).ConfigureAwait(false) },
                { Broadcast: { } r } => new BatchReply { Broadcast = await BroadcastAsync(r, ct).ConfigureAwait(false) },
                { Subscribe: { } r } => new BatchReply { Subscribe = await SubscribeAsync(r, ct).ConfigureAwait(false) },
                { Unsubscribe: { } r } => new BatchReply { Unsubscribe = await UnsubscribeAsync(r, ct).ConfigureAwait(false) },
                { Disconnect: { } r } => new BatchReply { Disconnect = await DisconnectAsync(r, ct).ConfigureAwait(false) },
                { Refresh: { } r } => new BatchReply { Refresh = await RefreshAsync(r, ct).ConfigureAwait(false) },
                { Presence: { } r } => new BatchReply { Presence = await PresenceAsync(r, ct).ConfigureAwait(false) },
                { PresenceStats: { } r } => new BatchReply { PresenceStats = await PresenceStatsAsync(r, ct).ConfigureAwait(false) },
                { History: { } r } => new BatchReply { History = await HistoryAsync(r, ct).ConfigureAwait(false) },
                { HistoryRemove: { } r } => new BatchReply { HistoryRemove = await HistoryRemoveAsync(r, ct).ConfigureAwait(false) },
                { Channels: { } r } => new BatchReply { Channels = await ChannelsAsync(r, ct).ConfigureAwait(false) },
                { Info: not null } => new BatchReply { Info = await InfoAsync(ct).ConfigureAwait(false) },
                { RevokeToken: { } r } => new BatchReply { RevokeToken = await RevokeTokenAsync(r, ct).ConfigureAwait(false) },
                { InvalidateUserTokens: { } r } => new BatchReply { InvalidateUserTokens = await InvalidateUserTokensAsync(r, ct).ConfigureAwait(false) },
                _ => new BatchReply { Error = new Error { Code = ErrorCodes.MethodNotFound, Message = "method not found" } },
            };
        }
        catch (ProtocolException e)
        {
            return new BatchReply { Error = e.ToError() };
        }
    }

    private static string RequireUser(string? user)
        => user ?? throw ProtocolException.BadRequest("user required");

    private IEnumerable<Client> TargetClients(string user, string? clientId)
    {
        var clients = node.Hub.UserClients(user);
        return string.IsNullOrEmpty(clientId) ? clients : clients.Where(c => c.Id == clientId);
    }

    private static Regex GlobToRegex(string glob)
    {
        var pattern = "^" + Regex.Escape(glob).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$";
        return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromMilliseconds(100));
    }

    private static partial class Log
    {
        [Microsoft.Extensions.Logging.LoggerMessage(61, Microsoft.Extensions.Logging.LogLevel.Warning, "A server API command from another node failed here: {Error}")]
        public static partial void ClusterCommandFailed(Microsoft.Extensions.Logging.ILogger logger, string error);
    }
}
