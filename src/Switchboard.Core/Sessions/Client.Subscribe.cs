using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

internal sealed partial class Client
{
    private async Task<Reply?> SubscribeAsync(SubscribeRequest request, uint id, CancellationToken ct)
    {
        var rule = _node.Policy.Resolve(request.Channel);
        if (_subscriptions.ContainsKey(rule.Channel))
        {
            throw new ProtocolException(ErrorCodes.AlreadySubscribed, "already subscribed");
        }
        if (_subscriptions.Count >= _node.Options.Client.ChannelLimit)
        {
            throw new ProtocolException(ErrorCodes.LimitExceeded, "limit exceeded");
        }
        SubscribeToken? token = null;
        if (!string.IsNullOrEmpty(request.Token))
        {
            token = await ValidateSubscribeTokenAsync(request.Token, rule.Channel, ct).ConfigureAwait(false);
        }
        else if (!ChannelPolicy.CanSubscribeWithoutToken(rule, User))
        {
            throw ProtocolException.PermissionDenied();
        }
        var decision = await AuthorizeAsync(ChannelOperation.Subscribe, rule, request.Data, ct).ConfigureAwait(false);
        var sub = NewSubscription(rule, token?.Override, request);
        sub.ChanInfo = decision is { Info.IsEmpty: false } ? decision.Info : token?.Info ?? default;
        sub.ExpireAt = token?.ExpireAt;
        var result = await JoinChannelAsync(sub, request, ct).ConfigureAwait(false);
        if (result is null)
        {
            return null; // closed meanwhile
        }
        if (decision is { Data.IsEmpty: false })
        {
            result.Data = decision.Data;
        }
        GoLiveAfter([sub], _codec.Encode(new Reply { Id = id, Subscribe = result }));
        await AfterSubscribedAsync(sub, ct).ConfigureAwait(false);
        return null;
    }

    private async Task<SubscribeToken> ValidateSubscribeTokenAsync(string token, string channel, CancellationToken ct)
    {
        SubscribeToken validated;
        try
        {
            validated = await _node.Tokens.ValidateSubscribeTokenAsync(token, ct).ConfigureAwait(false);
        }
        catch (TokenException e) when (e.Error == TokenError.Expired)
        {
            throw new ProtocolException(ErrorCodes.TokenExpired, "token expired");
        }
        catch (TokenException e)
        {
            Log.InvalidToken(_node.Logger, Id, e.Message);
            throw new DisconnectException(Protocol.Disconnect.InvalidToken);
        }
        if (validated.Channel != channel || validated.User != User)
        {
            Log.InvalidToken(_node.Logger, Id, "subscription token is for another channel or user");
            throw new DisconnectException(Protocol.Disconnect.InvalidToken);
        }
        if (validated.ExpireAt is { } expireAt && expireAt <= _node.Time.GetUtcNow())
        {
            throw new ProtocolException(ErrorCodes.TokenExpired, "token expired");
        }
        return validated;
    }

    private ClientSubscription NewSubscription(ChannelRule rule, SubscriptionOverride? overrides, SubscribeRequest? request)
    {
        var o = rule.Options;
        var forcePositioning = overrides?.ForcePositioning?.Value ?? o.ForcePositioning;
        var forceRecovery = overrides?.ForceRecovery?.Value ?? o.ForceRecovery;
        var joinLeave = overrides?.JoinLeave?.Value ?? o.JoinLeave;
        var forcePushJoinLeave = overrides?.ForcePushJoinLeave?.Value ?? o.ForcePushJoinLeave;
        var recoverable = o.HasHistory && (forceRecovery || (o.AllowRecovery && request is { Recoverable: true }));
        var positioned = o.HasHistory && (recoverable || forcePositioning || (o.AllowPositioning && request is { Positioned: true }));
        return new ClientSubscription(this, rule.Channel, rule)
        {
            Recoverable = recoverable,
            Positioned = positioned,
            JoinLeave = joinLeave && (forcePushJoinLeave || request is { JoinLeave: true }),
            Presence = overrides?.Presence?.Value ?? o.Presence,
        };
    }

    /// <summary>
    /// Registers the subscription (buffering), reads the stream position and, when asked,
    /// recovers. Returns null when the connection closed meanwhile.
    /// </summary>
    private async Task<SubscribeResult?> JoinChannelAsync(ClientSubscription sub, SubscribeRequest? request, CancellationToken ct)
    {
        if (!_subscriptions.TryAdd(sub.Channel, sub))
        {
            throw new ProtocolException(ErrorCodes.AlreadySubscribed, "already subscribed");
        }
        try
        {
            await _node.Hub.AddSubscriptionAsync(sub, ct).ConfigureAwait(false);
            if (_state == ClientState.Closed)
            {
                await _node.Hub.RemoveSubscriptionAsync(sub, CancellationToken.None).ConfigureAwait(false);
                return null;
            }
            var result = new SubscribeResult { Recoverable = sub.Recoverable, Positioned = sub.Positioned };
            if (sub.Positioned)
            {
                if (sub.Recoverable && request is { Recover: true })
                {
                    await RecoverAsync(sub, request.Epoch ?? "", request.Offset, result, ct).ConfigureAwait(false);
                }
                else
                {
                    var page = await _node.Broker.HistoryAsync(sub.Channel, new HistoryQuery { Limit = 0, MetaTtl = sub.Rule.Options.HistoryMetaTtl }, ct).ConfigureAwait(false);
                    result.Epoch = page.Position.Epoch;
                    result.Offset = page.Position.Offset;
                }
                sub.Epoch = result.Epoch ?? "";
                sub.Offset = result.Offset;
            }
            if (sub.ExpireAt is { } expireAt)
            {
                result.Expires = true;
                result.Ttl = Ttl(expireAt, _node.Time.GetUtcNow());
            }
            // Present before the reply: a client that asks for presence right after sees itself.
            if (sub.Presence)
            {
                await _node.Presence.AddPresenceAsync(sub.Channel, Info(sub.ChanInfo), _node.Options.Client.PresenceTtl, ct).ConfigureAwait(false);
            }
            return result;
        }
        catch
        {
            _subscriptions.TryRemove(sub.Channel, out _);
            await _node.Hub.RemoveSubscriptionAsync(sub, CancellationToken.None).ConfigureAwait(false);
            if (sub.Presence)
            {
                await _node.Presence.RemovePresenceAsync(sub.Channel, Id, CancellationToken.None).ConfigureAwait(false);
            }
            throw;
        }
    }

    private async Task RecoverAsync(ClientSubscription sub, string epoch, ulong offset, SubscribeResult result, CancellationToken ct)
    {
        var max = _node.Options.Client.RecoveryMaxPublicationLimit;
        var metaTtl = sub.Rule.Options.HistoryMetaTtl;
        HistoryPage page;
        try
        {
            page = await _node.Broker.HistoryAsync(sub.Channel, new HistoryQuery
            {
                Since = new StreamPosition { Epoch = epoch, Offset = offset },
                Limit = max + 1,
                MetaTtl = metaTtl,
            }, ct).ConfigureAwait(false);
        }
        catch (ProtocolException e) when (e.Code == ErrorCodes.UnrecoverablePosition)
        {
            // Another epoch: the stream was lost; report the new position, recover nothing.
            page = await _node.Broker.HistoryAsync(sub.Channel, new HistoryQuery { Limit = 0, MetaTtl = metaTtl }, ct).ConfigureAwait(false);
        }
        var (recovered, publications) = Recovery.Decide(epoch, offset, page, max);
        result.WasRecovering = true;
        result.Recovered = recovered;
        result.Publications = publications.Count == 0 ? null : [.. publications];
        result.Epoch = page.Position.Epoch;
        result.Offset = page.Position.Offset;
        _node.Metrics.Recovery(recovered);
    }

    /// <summary>
    /// Queues the reply, then what arrived while subscribing (only what the reply did not already
    /// cover), and makes the subscriptions live: nothing lost, nothing twice, reply first.
    /// </summary>
    private void GoLiveAfter(List<ClientSubscription> subs, byte[] reply)
    {
        foreach (var sub in subs)
        {
            Monitor.Enter(sub.Lock);
        }
        try
        {
            Enqueue(reply);
            foreach (var sub in subs)
            {
                foreach (var (pub, bytes) in sub.GoLive())
                {
                    QueuePublication(sub, pub, bytes);
                }
                if (sub.InterruptedWhileJoining)
                {
                    ResubscribeLater(sub, "interrupted");
                }
            }
        }
        finally
        {
            foreach (var sub in subs)
            {
                Monitor.Exit(sub.Lock);
            }
        }
    }

    // Join goes out once the subscription is live, so the joining client can see its own join.
    private async Task AfterSubscribedAsync(ClientSubscription sub, CancellationToken ct)
    {
        if (sub.Rule.Options.JoinLeave)
        {
            await _node.Broker.PublishJoinAsync(sub.Channel, Info(sub.ChanInfo), ct).ConfigureAwait(false);
        }
    }

    private async Task<Reply?> UnsubscribeAsync(UnsubscribeRequest request, CancellationToken ct)
    {
        var rule = _node.Policy.Resolve(request.Channel);
        if (_subscriptions.TryRemove(rule.Channel, out var sub))
        {
            await LeaveChannelAsync(sub, ct).ConfigureAwait(false);
        }
        return new Reply { Unsubscribe = new UnsubscribeResult() };
    }

    private async Task LeaveChannelAsync(ClientSubscription sub, CancellationToken ct)
    {
        await _node.Hub.RemoveSubscriptionAsync(sub, ct).ConfigureAwait(false);
        if (sub.Presence)
        {
            await _node.Presence.RemovePresenceAsync(sub.Channel, Id, ct).ConfigureAwait(false);
        }
        if (sub.Rule.Options.JoinLeave)
        {
            await _node.Broker.PublishLeaveAsync(sub.Channel, Info(sub.ChanInfo), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Server-side subscribe (token channels or the server API).</summary>
    private async Task<(ClientSubscription? Sub, SubscribeResult? Result)> ServerSubscribeAsync(
        string channel, SubscribeOptionsClaim? options, SubscribeRequest? recover, CancellationToken ct)
    {
        ChannelRule rule;
        try
        {
            rule = _node.Policy.Resolve(channel);
        }
        catch (ProtocolException)
        {
            Log.ServerSubscribeSkipped(_node.Logger, Id, channel);
            return (null, null);
        }
        if (_subscriptions.ContainsKey(channel))
        {
            return (null, null);
        }
        var sub = NewSubscription(rule, options?.Override, null);
        sub.ServerSide = true;
        sub.ChanInfo = options?.Info ?? default;
        // A client that reconnects sends the positions of its server-side subscriptions in connect.subs.
        var request = recover is { Recover: true } && sub.Recoverable ? recover : null;
        var result = await JoinChannelAsync(sub, request, ct).ConfigureAwait(false);
        if (result is not null && !(options?.Data.IsEmpty ?? true))
        {
            result.Data = options!.Data;
        }
        return result is null ? (null, null) : (sub, result);
    }

    /// <summary>The server API subscribes this client: a subscribe push, then live publications.</summary>
    public async Task<bool> SubscribeFromServerAsync(string channel, RawJson info, RawJson data, CancellationToken ct)
    {
        var (sub, result) = await ServerSubscribeAsync(channel, new SubscribeOptionsClaim { Info = info, Data = data }, null, ct).ConfigureAwait(false);
        if (sub is null || result is null)
        {
            return false;
        }
        var push = new SubscribePush
        {
            Recoverable = result.Recoverable,
            Positioned = result.Positioned,
            Epoch = result.Epoch,
            Offset = result.Offset,
            Data = result.Data,
        };
        GoLiveAfter([sub], _codec.EncodePush(new Push { Channel = channel, Subscribe = push }));
        await AfterSubscribedAsync(sub, ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>The server unsubscribes this client from a channel, telling it why with a code.</summary>
    public async Task<bool> UnsubscribeFromServerAsync(string channel, uint code, string reason, CancellationToken ct)
        => _subscriptions.TryGetValue(channel, out var sub) && await UnsubscribeFromServerAsync(sub, code, reason, ct).ConfigureAwait(false);

    // Ends exactly this subscription (not a newer one of the same channel). The channel is left
    // entirely (hub, presence, leave message) before the client hears of it: the client may
    // resubscribe the moment the push arrives, and that new subscription must not be undone
    // by the old one's leaving.
    private async Task<bool> UnsubscribeFromServerAsync(ClientSubscription sub, uint code, string reason, CancellationToken ct)
    {
        if (!_subscriptions.TryRemove(sub))
        {
            return false;
        }
        try
        {
            await LeaveChannelAsync(sub, ct).ConfigureAwait(false);
        }
        finally
        {
            EnqueuePush(new Push { Channel = sub.Channel, Unsubscribe = new UnsubscribePush { Code = code, Reason = reason } });
        }
        return true;
    }

    private async Task<Reply?> SubRefreshAsync(SubRefreshRequest request, CancellationToken ct)
    {
        var rule = _node.Policy.Resolve(request.Channel);
        if (!_subscriptions.TryGetValue(rule.Channel, out var sub))
        {
            throw ProtocolException.PermissionDenied();
        }
        if (string.IsNullOrEmpty(request.Token))
        {
            throw ProtocolException.BadRequest("token required");
        }
        var token = await ValidateSubscribeTokenAsync(request.Token, rule.Channel, ct).ConfigureAwait(false);
        sub.ExpireAt = token.ExpireAt;
        var result = new SubRefreshResult();
        if (token.ExpireAt is { } expireAt)
        {
            result.Expires = true;
            result.Ttl = Ttl(expireAt, _node.Time.GetUtcNow());
        }
        return new Reply { SubRefresh = result };
    }

    /// <summary>Called by the hub for each publication in the channel of this client's subscription.</summary>
    public void DeliverPublication(ClientSubscription sub, Publication publication, OutboundPush push)
    {
        if (sub.Ended)
        {
            return;
        }
        var bytes = push.For(_codec);
        lock (sub.Lock)
        {
            if (!sub.IsLive)
            {
                sub.Buffer(publication, bytes);
                return;
            }
            QueuePublication(sub, publication, bytes);
        }
    }

    // Called with sub.Lock held. Positioned subscriptions drop what the client already has and
    // detect gaps: a gap means the client must resubscribe and recover (2500).
    private void QueuePublication(ClientSubscription sub, Publication publication, ReadOnlyMemory<byte> bytes)
    {
        if (sub.Positioned && publication.Offset > 0)
        {
            if (publication.Epoch is { } epoch && sub.Epoch.Length > 0 && epoch != sub.Epoch)
            {
                // The stream was lost and started again (e.g. Redis restarted without its data):
                // the client's offsets mean nothing in the new epoch; it resubscribes and is told.
                Log.EpochChanged(_node.Logger, Id, sub.Channel, sub.Epoch, epoch);
                ResubscribeLater(sub, "epoch");
                return;
            }
            if (publication.Offset <= sub.Offset)
            {
                return;
            }
            if (publication.Offset > sub.Offset + 1)
            {
                Log.InsufficientState(_node.Logger, Id, sub.Channel, sub.Offset, publication.Offset);
                ResubscribeLater(sub, "gap");
                return;
            }
            sub.Offset = publication.Offset;
        }
        Enqueue(bytes);
    }

    // Not under the subscription's lock and not on the publisher's thread: leaving a channel takes
    // other locks. A method of its own so the hot path above allocates no closure.
    private void ResubscribeLater(ClientSubscription sub, string reason)
        => _ = Task.Run(async () =>
        {
            if (await UnsubscribeFromServerAsync(sub, UnsubscribeCodes.InsufficientState, "insufficient state", CancellationToken.None).ConfigureAwait(false))
            {
                _node.Metrics.Resubscribe(reason);
            }
        });

    /// <summary>
    /// The broker may have missed publications of this channel (its connection came back): a
    /// positioned subscription resubscribes (2500) and recovers what it missed from the stream.
    /// </summary>
    public void OnStreamInterrupted(ClientSubscription sub)
    {
        if (sub.Ended || !sub.Positioned)
        {
            return;
        }
        lock (sub.Lock)
        {
            if (!sub.IsLive)
            {
                // Still subscribing: its reply must reach the client before the 2500, or the
                // client would take the late reply for a live subscription the server has ended.
                sub.InterruptedWhileJoining = true;
                return;
            }
        }
        ResubscribeLater(sub, "interrupted");
    }

    /// <summary>Called by the hub for join and leave messages.</summary>
    public void DeliverJoinLeave(ClientSubscription sub, OutboundPush push)
    {
        if (!sub.Ended && sub.JoinLeave)
        {
            lock (sub.Lock)
            {
                if (sub.IsLive)
                {
                    Enqueue(push.For(_codec));
                }
            }
        }
    }

    private void CheckSubscriptionExpiry(DateTimeOffset now)
    {
        var delay = _node.Options.Client.ExpiredSubCloseDelay;
        foreach (var sub in _subscriptions.Values)
        {
            if (sub.ExpireAt is { } expireAt && now >= expireAt + delay)
            {
                _ = UnsubscribeFromServerAsync(sub, UnsubscribeCodes.Expired, "subscription expired", CancellationToken.None);
            }
        }
    }

    private async Task RefreshPresenceAsync()
    {
        foreach (var sub in _subscriptions.Values)
        {
            if (sub.Presence)
            {
                try
                {
                    await _node.Presence.AddPresenceAsync(sub.Channel, Info(sub.ChanInfo), _node.Options.Client.PresenceTtl, Closed).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (ProtocolException)
                {
                    // The engine is unavailable; the next refresh tries again.
                    return;
                }
            }
        }
    }
}
