using Switchboard.Client.Protocol;

namespace Switchboard.Client;

// What the client does while connected: answer pings, watch for silence, refresh the token,
// route pushes. The transport's reader loop calls in here, one message at a time, in order.
public sealed partial class SwitchboardClient : ITransportHandler
{
    private ITimer? _watchdog;
    private TimeSpan _silenceLimit = Timeout.InfiniteTimeSpan;
    private bool _pong;
    private ITimer? _refreshTimer;

    // Test hooks (internal; the tests see them through InternalsVisibleTo).
    private long _framesSent;
    private long _messagesSent;

    /// <summary>Frames written on any connection so far (test hook: shows that commands share frames).</summary>
    internal long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Messages (commands and pongs) written on any connection so far (test hook).</summary>
    internal long MessagesSent => Interlocked.Read(ref _messagesSent);

    /// <summary>Raised on the reader loop right after a pong to a server ping was queued (test hook).</summary>
    internal event Action? PingAnswered;

    void ITransportHandler.OnSent(int messages)
    {
        Interlocked.Increment(ref _framesSent);
        Interlocked.Add(ref _messagesSent, messages);
    }

    void ITransportHandler.OnFrame()
    {
        lock (_gate)
        {
            _watchdog?.Change(_silenceLimit, Timeout.InfiniteTimeSpan);
        }
    }

    void ITransportHandler.OnPing(Transport transport)
    {
        bool pong;
        lock (_gate)
        {
            pong = _pong && _transport == transport;
        }
        if (pong && transport.Post(null))
        {
            PingAnswered?.Invoke();
        }
    }

    void ITransportHandler.OnPush(Transport transport, Push push)
    {
        if (push.Disconnect is { } disconnect)
        {
            transport.Abort((int)disconnect.Code, disconnect.Reason ?? "", disconnect.Reconnect);
            return;
        }
        if (push.Message is { } message)
        {
            Raise(new MessageEventArgs(message.Data ?? default));
            return;
        }
        lock (_gate)
        {
            if (_transport != transport)
            {
                return;
            }
            if (push.Refresh is { } refresh && _run is { } run)
            {
                ScheduleRefreshLocked(run, transport, refresh.Expires, refresh.Ttl);
                return;
            }
            if (push.Channel is { } channel && _subs.TryGetValue(channel, out var sub))
            {
                sub.OnPushLocked(transport, push);
            }
        }
    }

    private void StartHeartbeatLocked(Transport transport, ConnectResult result)
    {
        _pong = result.Pong;
        _watchdog?.Dispose();
        _watchdog = null;
        if (result.Ping > 0)
        {
            // The server pings every `ping` seconds; silence well past that means a dead connection.
            _silenceLimit = TimeSpan.FromSeconds(result.Ping) + _options.MaxServerPingDelay;
            _watchdog = _time.CreateTimer(
                static state => ((Transport)state!).Abort(DisconnectCodes.NoPing, "no ping", reconnect: true),
                transport,
                _silenceLimit,
                Timeout.InfiniteTimeSpan);
        }
    }

    private void ScheduleRefreshLocked(CancellationTokenSource run, Transport transport, bool expires, uint ttl)
    {
        _refreshTimer?.Dispose();
        _refreshTimer = null;
        if (!expires || _options.GetToken is null)
        {
            return;
        }
        // Refresh ahead of the expiry, so the new token is in place before the server checks.
        var delay = TimeSpan.FromSeconds(ttl * 0.9);
        _refreshTimer = _time.CreateTimer(
            _ => _ = RefreshAsync(run, transport),
            null,
            delay,
            Timeout.InfiniteTimeSpan);
    }

    private void StopTimersLocked()
    {
        _watchdog?.Dispose();
        _watchdog = null;
        _refreshTimer?.Dispose();
        _refreshTimer = null;
        _pong = false;
    }

    private async Task RefreshAsync(CancellationTokenSource run, Transport transport)
    {
        CancellationToken stop;
        lock (_gate)
        {
            if (_run != run || _transport != transport)
            {
                return;
            }
            stop = run.Token;
        }
        try
        {
            var token = await _options.GetToken!(stop).ConfigureAwait(false) ?? "";
            if (token.Length == 0)
            {
                transport.Abort(DisconnectCodes.Unauthorized, "unauthorized", reconnect: false);
                return;
            }
            var reply = await RequestOnAsync(transport, new Command { Refresh = new RefreshRequest { Token = token } }, null, stop).ConfigureAwait(false);
            var result = reply.Refresh ?? new RefreshResult();
            lock (_gate)
            {
                _token = token;
                if (_run == run && _transport == transport)
                {
                    ScheduleRefreshLocked(run, transport, result.Expires, result.Ttl);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disconnected meanwhile.
        }
        catch (SwitchboardException e) when (e.Code >= 100 && !e.Temporary)
        {
            RaiseError("refresh", e);
            transport.Abort((int)e.Code, e.Message, reconnect: false);
        }
        catch (Exception e)
        {
            // A temporary error, a timeout or a failing token provider: try again a little later.
            RaiseError("refresh", e);
            lock (_gate)
            {
                if (_run == run && _transport == transport)
                {
                    _refreshTimer?.Dispose();
                    _refreshTimer = _time.CreateTimer(
                        _ => _ = RefreshAsync(run, transport),
                        null,
                        Backoff.Delay(0, _options.MinReconnectDelay, _options.MaxReconnectDelay),
                        Timeout.InfiniteTimeSpan);
                }
            }
        }
    }
}
