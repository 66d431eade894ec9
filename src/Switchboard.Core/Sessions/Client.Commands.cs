using Microsoft.Extensions.Logging;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

internal sealed partial class Client
{
    /// <summary>
    /// Handles one incoming frame: its commands in order. A malformed frame, or a command that
    /// breaks the ordering rules, closes this connection (3501) and nothing else.
    /// </summary>
    public async Task HandleFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        _node.Metrics.BytesIn(_transport.Name, frame.Length);
        List<Command> commands;
        try
        {
            commands = _codec.DecodeFrame(frame.Span);
        }
        catch (DisconnectException e)
        {
            Disconnect(e.Disconnect);
            return;
        }
        foreach (var command in commands)
        {
            if (_disconnect is not null)
            {
                return;
            }
            await HandleCommandAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    // Only emulated sessions (HTTP-streaming, SSE) take frames from concurrent requests; the other
    // transports have one reader and need no gate (nor its memory per connection).
    private SemaphoreSlim? _frameGate;

    /// <summary>
    /// Handles a frame that may race with others for the same session (the connect body of a
    /// streaming request and the emulation requests that follow it): one frame at a time, in the
    /// order they arrive here.
    /// </summary>
    public async Task HandleFrameInOrderAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var gate = LazyInitializer.EnsureInitialized(ref _frameGate, () => new SemaphoreSlim(1, 1));
        try
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            await HandleFrameAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The only command of a unidirectional connection. A refusal cannot be a reply here: it
    /// closes the connection with the matching disconnect code instead.
    /// </summary>
    public Task ConnectUnidirectionalAsync(ConnectRequest request, CancellationToken cancellationToken)
        => HandleCommandAsync(new Command { Id = 1, Connect = request }, cancellationToken);

    private static Disconnect UnidirectionalRefusal(Error error) => error.Code switch
    {
        ErrorCodes.TokenExpired => Protocol.Disconnect.Expired,
        ErrorCodes.PermissionDenied => new Disconnect(DisconnectCodes.PermissionDenied, "permission denied"),
        ErrorCodes.LimitExceeded => Protocol.Disconnect.ConnectionLimit,
        ErrorCodes.TooManyRequests => Protocol.Disconnect.TooManyRequests,
        _ when error.Temporary => Protocol.Disconnect.ServerError,
        _ => Protocol.Disconnect.BadRequest,
    };

    private async Task HandleCommandAsync(Command command, CancellationToken cancellationToken)
    {
        var methods = CountMethods(command);
        if (methods == 0)
        {
            if (command.Id == 0)
            {
                HandlePong();
            }
            else
            {
                EnqueueReply(new Reply { Id = command.Id, Error = new Error { Code = ErrorCodes.MethodNotFound, Message = "method not found" } });
            }
            return;
        }
        if (methods > 1 || (command.Id == 0 && command.Send is null))
        {
            Disconnect(Protocol.Disconnect.BadRequest);
            return;
        }
        if (command.Connect is null && _state != ClientState.Connected)
        {
            Disconnect(Protocol.Disconnect.BadRequest);
            return;
        }
        var method = MethodName(command);
        if (!TakeCommandToken())
        {
            // Over the rate: refuse with 111 (temporary); a client that keeps at it is closed with 3013.
            if (++_floodStrikes >= _node.Options.Client.FloodDisconnectAfter)
            {
                Disconnect(Protocol.Disconnect.TooManyRequests);
            }
            else if (command.Id != 0)
            {
                EnqueueReply(new Reply { Id = command.Id, Error = new Error { Code = ErrorCodes.TooManyRequests, Message = "too many requests", Temporary = true } });
            }
            _node.Metrics.Command(method, "111", 0);
            return;
        }
        _floodStrikes = 0;
        var started = _node.Time.GetTimestamp();
        var result = "ok";
        try
        {
            if (command.InvalidData)
            {
                throw ProtocolException.BadRequest("data is not a JSON value");
            }
            var reply = await DispatchAsync(command, cancellationToken).ConfigureAwait(false);
            if (reply is not null)
            {
                reply.Id = command.Id;
                EnqueueReply(reply);
            }
        }
        catch (ProtocolException e)
        {
            result = e.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (_transport.Unidirectional)
            {
                Disconnect(UnidirectionalRefusal(e.ToError()));
            }
            else
            {
                EnqueueReply(new Reply { Id = command.Id, Error = e.ToError() });
            }
        }
        catch (DisconnectException e)
        {
            result = "disconnect";
            Disconnect(e.Disconnect);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || Closed.IsCancellationRequested)
        {
            // The connection is going away.
            result = "cancelled";
        }
#pragma warning disable CA1031 // one failed command answers 100 and harms no one else
        catch (Exception e)
#pragma warning restore CA1031
        {
            result = "100";
            Log.CommandFailed(_node.Logger, Id, e);
            if (_transport.Unidirectional)
            {
                Disconnect(Protocol.Disconnect.ServerError);
                return;
            }
            EnqueueReply(new Reply { Id = command.Id, Error = new Error { Code = ErrorCodes.Internal, Message = "internal server error", Temporary = true } });
        }
        finally
        {
            var elapsed = _node.Time.GetElapsedTime(started);
            _node.Metrics.Command(method, result, elapsed.TotalSeconds);
            Log.CommandHandled(_node.Logger, Id, method, elapsed.TotalMilliseconds);
        }
    }

    // Token bucket: CommandRate tokens a second, at most CommandBurst saved up.
    private bool TakeCommandToken()
    {
        var options = _node.Options.Client;
        var now = _node.Time.GetTimestamp();
        var elapsed = _node.Time.GetElapsedTime(_commandRefilledAt, now).TotalSeconds;
        _commandRefilledAt = now;
        _commandTokens = Math.Min(options.CommandBurst, _commandTokens + (elapsed * options.CommandRate));
        if (_commandTokens < 1)
        {
            return false;
        }
        _commandTokens -= 1;
        return true;
    }

    private Task<Reply?> DispatchAsync(Command c, CancellationToken ct)
    {
        if (c.Connect is { } connect)
        {
            return ConnectAsync(connect, c.Id, ct);
        }
        if (c.Subscribe is { } subscribe)
        {
            return SubscribeAsync(subscribe, c.Id, ct);
        }
        if (c.Unsubscribe is { } unsubscribe)
        {
            return UnsubscribeAsync(unsubscribe, ct);
        }
        if (c.Publish is { } publish)
        {
            return PublishAsync(publish, ct);
        }
        if (c.Presence is { } presence)
        {
            return PresenceAsync(presence, ct);
        }
        if (c.PresenceStats is { } presenceStats)
        {
            return PresenceStatsAsync(presenceStats, ct);
        }
        if (c.History is { } history)
        {
            return HistoryAsync(history, ct);
        }
        if (c.Rpc is { } rpc)
        {
            return RpcAsync(rpc, ct);
        }
        if (c.Refresh is { } refresh)
        {
            return RefreshAsync(refresh, ct);
        }
        if (c.SubRefresh is { } subRefresh)
        {
            return SubRefreshAsync(subRefresh, ct);
        }
        return SendAsync(c.Send!, ct);
    }

    private static int CountMethods(Command c)
        => (c.Connect is null ? 0 : 1) + (c.Subscribe is null ? 0 : 1) + (c.Unsubscribe is null ? 0 : 1)
         + (c.Publish is null ? 0 : 1) + (c.Presence is null ? 0 : 1) + (c.PresenceStats is null ? 0 : 1)
         + (c.History is null ? 0 : 1) + (c.Rpc is null ? 0 : 1) + (c.Refresh is null ? 0 : 1)
         + (c.SubRefresh is null ? 0 : 1) + (c.Send is null ? 0 : 1);

    private static string MethodName(Command c) =>
        c.Connect is not null ? "connect" : c.Subscribe is not null ? "subscribe" : c.Unsubscribe is not null ? "unsubscribe"
        : c.Publish is not null ? "publish" : c.Presence is not null ? "presence" : c.PresenceStats is not null ? "presence_stats"
        : c.History is not null ? "history" : c.Rpc is not null ? "rpc" : c.Refresh is not null ? "refresh"
        : c.SubRefresh is not null ? "sub_refresh" : c.Send is not null ? "send" : "pong";

    private void HandlePong()
    {
        if (_state != ClientState.Connected || _pongDeadline is null)
        {
            // A pong with no ping outstanding is a bad request.
            Disconnect(Protocol.Disconnect.BadRequest);
            return;
        }
        _pongDeadline = null;
    }

    // The per-user limit across the cluster: counted in the engine, uncounted at cleanup. While
    // the engine is unavailable the node's own count is all that is checked (fail open: a Redis
    // outage must not lock every user out).
    private async Task CountUserConnectionAsync(string user, int limit, CancellationToken ct)
    {
        bool added;
        try
        {
            added = await _node.Cluster.Control.TryAddUserConnectionAsync(user, _node.Uid, limit, _node.Cluster.LiveNodeUids(), _node.Cluster.RegistryComplete, ct).ConfigureAwait(false);
        }
        catch (ProtocolException)
        {
            return;
        }
        if (!added)
        {
            throw new DisconnectException(Protocol.Disconnect.ConnectionLimit);
        }
        _userCounted = true;
    }

    private volatile bool _userCounted;

    private async Task UncountUserConnectionAsync()
    {
        if (!_userCounted)
        {
            return;
        }
        _userCounted = false;
        try
        {
            await _node.Cluster.Control.RemoveUserConnectionAsync(User, _node.Uid, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ProtocolException)
        {
            // Counted too high until this node leaves the registry; the limit errs on the safe side.
        }
    }

    private async Task<Reply?> ConnectAsync(ConnectRequest request, uint id, CancellationToken ct)
    {
        if (_state != ClientState.Connecting)
        {
            throw new DisconnectException(Protocol.Disconnect.BadRequest);
        }
        ConnectToken? token = null;
        if (!string.IsNullOrEmpty(request.Token))
        {
            token = await ValidateConnectTokenAsync(request.Token, ct).ConfigureAwait(false);
        }
        else if (!_node.Options.Client.AllowAnonymousConnectWithoutToken)
        {
            throw new DisconnectException(new Disconnect(DisconnectCodes.InvalidToken, "token required"));
        }
        var now = _node.Time.GetUtcNow();
        if (token?.ExpireAt is { } expireAt && expireAt <= now)
        {
            throw new ProtocolException(ErrorCodes.TokenExpired, "token expired");
        }
        var user = token?.User ?? "";
        var userLimit = _node.Options.Client.UserConnectionLimit;
        if (user.Length > 0 && userLimit > 0)
        {
            if (_node.Hub.UserClients(user).Count >= userLimit)
            {
                throw new DisconnectException(Protocol.Disconnect.ConnectionLimit);
            }
            if (_node.Cluster.IsDistributed)
            {
                await CountUserConnectionAsync(user, userLimit, ct).ConfigureAwait(false);
            }
        }
        User = user;
        ConnInfo = token?.Info ?? default;
        ExpireAt = token?.ExpireAt;
        ClientName = request.Name;
        ClientVersion = request.Version;
        _lastPingAt = now;
        _nextPresenceAt = now + _node.Options.Client.PresenceUpdateInterval;
        _state = ClientState.Connected;
        _node.Hub.AddClient(this);
        Log.Connected(_node.Logger, Id, User, _transport.Name);
        _node.Metrics.Connected(_transport.Name);

        var result = new ConnectResult
        {
            Client = Id,
            Version = _node.Version,
            Ping = (uint)_node.Options.Client.PingInterval.TotalSeconds,
            Pong = true,
            Node = _node.Name,
        };
        if (Session is not null)
        {
            // Emulation requests name the node that holds the session; any node routes them here.
            result.Session = Session;
            result.Node = _node.Uid;
        }
        if (ExpireAt is { } e)
        {
            result.Expires = true;
            result.Ttl = Ttl(e, now);
        }

        // Server-side subscriptions from the token: subscribed before the reply, live after it.
        var serverSubs = new List<ClientSubscription>();
        if (token is not null && (token.Channels.Count > 0 || token.Subs.Count > 0))
        {
            result.Subs = [];
            foreach (var channel in token.Channels.Concat(token.Subs.Keys).Distinct(StringComparer.Ordinal))
            {
                token.Subs.TryGetValue(channel, out var options);
                var recover = request.Subs?.GetValueOrDefault(channel);
                var (sub, subResult) = await ServerSubscribeAsync(channel, options, recover, ct).ConfigureAwait(false);
                if (sub is not null)
                {
                    serverSubs.Add(sub);
                    result.Subs[channel] = subResult!;
                }
            }
        }
        var reply = _codec.Encode(new Reply { Id = id, Connect = result });
        if (serverSubs.Count == 0)
        {
            Enqueue(reply);
        }
        else
        {
            GoLiveAfter(serverSubs, reply);
        }
        foreach (var sub in serverSubs)
        {
            await AfterSubscribedAsync(sub, ct).ConfigureAwait(false);
        }
        return null;
    }

    private async Task<ConnectToken> ValidateConnectTokenAsync(string token, CancellationToken ct)
    {
        try
        {
            return await _node.Tokens.ValidateConnectTokenAsync(token, ct).ConfigureAwait(false);
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
    }

    private async Task<Reply?> RefreshAsync(RefreshRequest request, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.Token))
        {
            throw ProtocolException.BadRequest("token required");
        }
        ConnectToken token;
        try
        {
            token = await _node.Tokens.ValidateConnectTokenAsync(request.Token, ct).ConfigureAwait(false);
        }
        catch (TokenException e) when (e.Error == TokenError.Expired)
        {
            throw new DisconnectException(Protocol.Disconnect.Expired);
        }
        catch (TokenException e)
        {
            Log.InvalidToken(_node.Logger, Id, e.Message);
            throw new DisconnectException(Protocol.Disconnect.InvalidToken);
        }
        if (token.User != User)
        {
            throw new DisconnectException(Protocol.Disconnect.InvalidToken);
        }
        var now = _node.Time.GetUtcNow();
        if (token.ExpireAt is { } e2 && e2 <= now)
        {
            throw new DisconnectException(Protocol.Disconnect.Expired);
        }
        ExpireAt = token.ExpireAt;
        if (!token.Info.IsEmpty)
        {
            ConnInfo = token.Info;
        }
        var result = new RefreshResult { Client = Id, Version = _node.Version };
        if (ExpireAt is { } expireAt)
        {
            result.Expires = true;
            result.Ttl = Ttl(expireAt, now);
        }
        return new Reply { Refresh = result };
    }

    /// <summary>Server API refresh: a new expiry (or none), announced with a refresh push.</summary>
    public void ApplyServerRefresh(DateTimeOffset? expireAt)
    {
        ExpireAt = expireAt;
        var push = new RefreshPush();
        if (expireAt is { } e)
        {
            push.Expires = true;
            push.Ttl = Ttl(e, _node.Time.GetUtcNow());
        }
        EnqueuePush(new Push { Refresh = push });
    }

    private async Task<Reply?> PublishAsync(PublishRequest request, CancellationToken ct)
    {
        var rule = _node.Policy.Resolve(request.Channel);
        if (request.Data.IsEmpty)
        {
            throw ProtocolException.BadRequest("data required");
        }
        if (request.Data.Utf8.Length > _node.Options.Client.MaxPublicationBytes)
        {
            throw new ProtocolException(ErrorCodes.LimitExceeded, "publication data too large");
        }
        if (request.Data.Depth() > RawJson.MaxDataDepth)
        {
            throw ProtocolException.BadRequest("publication data nested too deep");
        }
        _subscriptions.TryGetValue(rule.Channel, out var sub);
        if (!ChannelPolicy.CanPublish(rule, User, sub is not null))
        {
            throw ProtocolException.PermissionDenied();
        }
        var decision = await AuthorizeAsync(ChannelOperation.Publish, rule, request.Data, ct).ConfigureAwait(false);
        var publication = new Publication
        {
            Data = decision is { Data.IsEmpty: false } ? decision.Data : request.Data,
            Info = Info(decision is { Info.IsEmpty: false } ? decision.Info : sub?.ChanInfo ?? default),
        };
        await _node.Broker.PublishAsync(rule.Channel, publication, rule.PublishOptions() with
        {
            IdempotentResultTtl = _node.Options.Client.IdempotentResultTtl,
        }, ct).ConfigureAwait(false);
        _node.Metrics.PublicationIn("client");
        return new Reply { Publish = new PublishResult() };
    }

    private async Task<Reply?> PresenceAsync(PresenceRequest request, CancellationToken ct)
    {
        var rule = ResolveForPresence(request.Channel);
        await AuthorizeAsync(ChannelOperation.Presence, rule, default, ct).ConfigureAwait(false);
        var presence = await _node.Presence.PresenceAsync(rule.Channel, ct).ConfigureAwait(false);
        return new Reply { Presence = new PresenceResult { Presence = new Dictionary<string, ClientInfo>(presence, StringComparer.Ordinal) } };
    }

    private async Task<Reply?> PresenceStatsAsync(PresenceStatsRequest request, CancellationToken ct)
    {
        var rule = ResolveForPresence(request.Channel);
        await AuthorizeAsync(ChannelOperation.PresenceStats, rule, default, ct).ConfigureAwait(false);
        var stats = await _node.Presence.PresenceStatsAsync(rule.Channel, ct).ConfigureAwait(false);
        return new Reply { PresenceStats = new PresenceStatsResult { NumClients = (uint)stats.NumClients, NumUsers = (uint)stats.NumUsers } };
    }

    // Presence and presence_stats share their checks: the feature must be on (108), the client allowed (103).
    private ChannelRule ResolveForPresence(string? channel)
    {
        var rule = _node.Policy.Resolve(channel);
        if (!rule.Options.Presence)
        {
            throw ProtocolException.NotAvailable();
        }
        if (!ChannelPolicy.CanReadPresence(rule, User, _subscriptions.ContainsKey(rule.Channel)))
        {
            throw ProtocolException.PermissionDenied();
        }
        return rule;
    }

    private async Task<Reply?> HistoryAsync(HistoryRequest request, CancellationToken ct)
    {
        var rule = _node.Policy.Resolve(request.Channel);
        if (!rule.Options.HasHistory)
        {
            throw ProtocolException.NotAvailable();
        }
        if (!ChannelPolicy.CanReadHistory(rule, User, _subscriptions.ContainsKey(rule.Channel)))
        {
            throw ProtocolException.PermissionDenied();
        }
        await AuthorizeAsync(ChannelOperation.History, rule, default, ct).ConfigureAwait(false);
        var page = await _node.ReadHistoryAsync(rule, request.Limit, request.Since, request.Reverse, ct).ConfigureAwait(false);
        return new Reply
        {
            History = new HistoryResult
            {
                Publications = page.Publications.Count == 0 ? null : [.. page.Publications],
                Epoch = page.Position.Epoch,
                Offset = page.Position.Offset,
            },
        };
    }

    private async Task<Reply?> RpcAsync(RpcRequest request, CancellationToken ct)
    {
        var handler = request.Method is null ? null : _node.FindRpcHandler(request.Method);
        if (handler is null)
        {
            throw new ProtocolException(ErrorCodes.MethodNotFound, "method not found");
        }
        await AuthorizeRpcAsync(request.Method!, request.Data, ct).ConfigureAwait(false);
        var data = await handler.HandleAsync(new RpcContext(request.Method!, request.Data, Context), ct).ConfigureAwait(false);
        return new Reply { Rpc = new RpcResult { Data = data } };
    }

    private async Task<Reply?> SendAsync(SendRequest request, CancellationToken ct)
    {
        if (request.Data.IsEmpty)
        {
            // A send has no reply to carry an error: a malformed one closes the connection.
            throw new DisconnectException(Protocol.Disconnect.BadRequest);
        }
        foreach (var handler in _node.SendHandlers)
        {
            await handler.HandleAsync(new SendContext(request.Data, Context), ct).ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>What extension points see of this client.</summary>
    public ClientContext Context => new(Id, User, ConnInfo, _transport.Name);

    private static uint Ttl(DateTimeOffset expireAt, DateTimeOffset now)
        => (uint)Math.Max(1, Math.Ceiling((expireAt - now).TotalSeconds));
}
