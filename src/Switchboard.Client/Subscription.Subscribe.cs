using Switchboard.Client.Protocol;

namespace Switchboard.Client;

// Subscribe attempts, their retries and the subscription token refresh. An attempt belongs to one
// generation and one connection: anything that interrupts it (unsubscribe, disconnect) bumps the
// generation and the attempt's late results are ignored.
public sealed partial class Subscription
{
    private void StartAttemptLocked(Transport transport)
    {
        var generation = ++_generation;
        _transport = transport;
        _ = Task.Run(() => AttemptAsync(transport, generation), CancellationToken.None);
    }

    private bool IsCurrentLocked(Transport transport, int generation) => generation == _generation && _transport == transport && _wanted;

    private async Task AttemptAsync(Transport transport, int generation)
    {
        var stop = _client.DisposingToken;
        try
        {
            string? token;
            lock (_client.Gate)
            {
                if (!IsCurrentLocked(transport, generation))
                {
                    return;
                }
                token = _token;
            }
            if (token is null && _options.GetToken is { } getToken && Channel.StartsWith('$'))
            {
                token = await getToken(Channel, stop).ConfigureAwait(false) ?? "";
                lock (_client.Gate)
                {
                    if (!IsCurrentLocked(transport, generation))
                    {
                        return;
                    }
                    if (token.Length == 0)
                    {
                        ToUnsubscribedLocked(UnsubscribeCodes.Unauthorized, "unauthorized", new SwitchboardException(ErrorCodes.PermissionDenied, "unauthorized"));
                        return;
                    }
                    _token = token;
                }
            }
            SubscribeRequest request;
            lock (_client.Gate)
            {
                if (!IsCurrentLocked(transport, generation))
                {
                    return;
                }
                var recover = _recoverable && _epoch is not null;
                request = new SubscribeRequest
                {
                    Channel = Channel,
                    Token = token,
                    Data = _options.Data,
                    JoinLeave = _options.JoinLeave,
                    Recoverable = _options.Recoverable,
                    Positioned = _options.Positioned,
                    Recover = recover,
                    Epoch = recover ? _epoch : null,
                    Offset = recover ? _offset : 0,
                };
            }
            await _client.RequestOnAsync(transport, new Command { Subscribe = request }, reply => OnSubscribeReply(transport, generation, reply), stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client is disposed.
        }
        catch (SwitchboardException e) when (e.Code == ErrorCodes.ConnectionClosed)
        {
            // The client resubscribes once it has reconnected.
        }
        catch (SwitchboardException e) when (e.Code == ErrorCodes.Timeout)
        {
            // The command's fate is unknown: a fresh connection makes the state clear again.
            RaiseError(e);
            transport.Abort(DisconnectCodes.TransportClosed, "subscribe timeout", reconnect: true);
        }
        catch (SwitchboardException e) when (e.Code >= 100 && !e.Temporary && e.Code != ErrorCodes.TokenExpired)
        {
            RaiseError(e);
            lock (_client.Gate)
            {
                if (IsCurrentLocked(transport, generation))
                {
                    ToUnsubscribedLocked((int)e.Code, e.Message, e);
                }
            }
        }
        catch (Exception e)
        {
            // A temporary error, an expired token or a failing token provider: try again.
            RaiseError(e);
            await RetryAsync(transport, generation, forgetToken: e is SwitchboardException { Code: ErrorCodes.TokenExpired }).ConfigureAwait(false);
        }
    }

    private async Task RetryAsync(Transport transport, int generation, bool forgetToken)
    {
        TimeSpan delay;
        lock (_client.Gate)
        {
            if (!IsCurrentLocked(transport, generation))
            {
                return;
            }
            if (forgetToken)
            {
                _token = null;
            }
            // A fresh token should work at once; anything else waits its turn.
            delay = forgetToken && _retries == 0 ? TimeSpan.Zero : Backoff.Delay(_retries, _client.Options.MinReconnectDelay, _client.Options.MaxReconnectDelay);
            _retries++;
        }
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _client.Time, _client.DisposingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_client.Gate)
        {
            if (IsCurrentLocked(transport, generation))
            {
                StartAttemptLocked(transport);
            }
        }
    }

    // Runs on the connection's reader loop: the result and its publications are delivered before
    // the next message of the connection is looked at.
    private void OnSubscribeReply(Transport transport, int generation, Reply reply)
    {
        if (reply.Error is not null)
        {
            return;
        }
        var result = reply.Subscribe ?? new SubscribeResult();
        lock (_client.Gate)
        {
            if (!IsCurrentLocked(transport, generation) || _state != SubscriptionState.Subscribing)
            {
                return;
            }
            _state = SubscriptionState.Subscribed;
            _retries = 0;
            _recoverable = result.Recoverable;
            _positioned = result.Positioned;
            StreamPosition? position = null;
            if (result.Recoverable || result.Positioned)
            {
                if (!result.Recovered)
                {
                    // A new stream, or a gap too large: offsets start over from the result.
                    _offset = 0;
                }
                _epoch = result.Epoch ?? "";
                position = new StreamPosition { Epoch = _epoch, Offset = result.Offset };
            }
            Raise(new SubscribedEventArgs(result.WasRecovering, result.Recovered, result.Positioned, result.Recoverable, position, result.Data ?? default));
            foreach (var publication in result.Publications ?? [])
            {
                DeliverLocked(publication);
            }
            if (position is not null)
            {
                _offset = Math.Max(_offset, result.Offset);
            }
            // Before SubscribeAsync completes (it completed first: with a fake clock advanced
            // right after it, the refresh timer was created too late and never fired).
            ScheduleRefreshLocked(transport, generation, result.Expires, result.Ttl);
            // Through the event queue: SubscribeAsync completes only after Subscribed (and the
            // recovered publications) were raised, so a handler added right after it never gets them.
            var waiters = _subscribedWaiters;
            _subscribedWaiters = null;
            if (waiters is not null)
            {
                _client.Post(() => waiters.TrySetResult());
            }
        }
    }

    private void ScheduleRefreshLocked(Transport transport, int generation, bool expires, uint ttl)
    {
        StopRefreshLocked();
        if (!expires || _options.GetToken is null)
        {
            return;
        }
        _refreshTimer = _client.Time.CreateTimer(
            _ => _ = RefreshAsync(transport, generation),
            null,
            TimeSpan.FromSeconds(ttl * 0.9),
            Timeout.InfiniteTimeSpan);
    }

    private async Task RefreshAsync(Transport transport, int generation)
    {
        var stop = _client.DisposingToken;
        try
        {
            var token = await _options.GetToken!(Channel, stop).ConfigureAwait(false) ?? "";
            if (token.Length == 0)
            {
                await FailAsync(transport, generation, UnsubscribeCodes.Unauthorized, new SwitchboardException(ErrorCodes.PermissionDenied, "unauthorized")).ConfigureAwait(false);
                return;
            }
            var reply = await _client.RequestOnAsync(transport, new Command { SubRefresh = new SubRefreshRequest { Channel = Channel, Token = token } }, null, stop).ConfigureAwait(false);
            var result = reply.SubRefresh ?? new RefreshResult();
            lock (_client.Gate)
            {
                if (IsCurrentLocked(transport, generation))
                {
                    _token = token;
                    ScheduleRefreshLocked(transport, generation, result.Expires, result.Ttl);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client is disposed.
        }
        catch (SwitchboardException e) when (e.Code >= 100 && !e.Temporary)
        {
            RaiseError(e);
            await FailAsync(transport, generation, (int)e.Code, e).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RaiseError(e);
            lock (_client.Gate)
            {
                if (IsCurrentLocked(transport, generation))
                {
                    StopRefreshLocked();
                    _refreshTimer = _client.Time.CreateTimer(
                        _ => _ = RefreshAsync(transport, generation),
                        null,
                        Backoff.Delay(0, _client.Options.MinReconnectDelay, _client.Options.MaxReconnectDelay),
                        Timeout.InfiniteTimeSpan);
                }
            }
        }
    }

    /// <summary>Ends the subscription for good after a refused refresh, and tells the server.</summary>
    private async Task FailAsync(Transport transport, int generation, int code, SwitchboardException error)
    {
        lock (_client.Gate)
        {
            if (!IsCurrentLocked(transport, generation))
            {
                return;
            }
            ToUnsubscribedLocked(code, error.Message, error);
        }
        try
        {
            await _client.RequestOnAsync(transport, new Command { Unsubscribe = new ChannelRequest { Channel = Channel } }, null, _client.DisposingToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SwitchboardException or OperationCanceledException)
        {
            // The server forgets the subscription with the connection anyway.
        }
    }

    private void RaiseError(Exception exception) => Raise(new SwitchboardErrorEventArgs("subscribe", exception));
}
