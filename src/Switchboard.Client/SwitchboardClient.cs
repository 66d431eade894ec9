using System.Net.WebSockets;
using Switchboard.Client.Protocol;

namespace Switchboard.Client;

/// <summary>
/// A connection to a Switchboard (or Centrifugo protocol v2) server over WebSocket with JSON.
/// It reconnects by itself after a connection loss and resubscribes its subscriptions, recovering
/// missed publications where the channel allows it. Every member is thread-safe.
/// </summary>
/// <remarks>
/// Events are raised one at a time, in order, on a thread of the client's own; an exception thrown
/// by a handler is ignored.
/// </remarks>
public sealed partial class SwitchboardClient : IAsyncDisposable
{
    private readonly Uri _uri;
    private readonly SwitchboardClientOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Subscription> _subs = new(StringComparer.Ordinal);
    private readonly EventQueue _events = new();
    private readonly CancellationTokenSource _disposing = new();

    private ClientState _state;
    private string _clientId = "";
    private string? _token;
    private uint _nextId;
    private bool _disposed;

    // The current run: from ConnectAsync (or a reconnect loop) to a terminal disconnect or DisconnectAsync.
    private CancellationTokenSource? _run;
    private Task _runTask = Task.CompletedTask;
    private TaskCompletionSource<Transport>? _connectedWaiters;

    // Set while connected.
    private Transport? _transport;

    /// <summary>Creates a client; it does not connect until <see cref="ConnectAsync"/>.</summary>
    /// <param name="uri">The server's WebSocket endpoint, e.g. <c>ws://localhost:8000/connection/websocket</c>.</param>
    /// <param name="options">Settings; defaults when null.</param>
    public SwitchboardClient(Uri uri, SwitchboardClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        _options = options ?? new SwitchboardClientOptions();
        _options.Validate();
        _uri = uri;
        _time = _options.TimeProvider;
        _token = _options.Token;
    }

    /// <summary>Raised when the client starts connecting or, after a connection loss, reconnecting.</summary>
    public event EventHandler<ConnectingEventArgs>? Connecting;

    /// <summary>Raised when the client has connected.</summary>
    public event EventHandler<ConnectedEventArgs>? Connected;

    /// <summary>Raised when the client is disconnected and will not reconnect by itself.</summary>
    public event EventHandler<DisconnectedEventArgs>? Disconnected;

    /// <summary>Raised when something failed that the client handles by itself (it retries or changes state).</summary>
    public event EventHandler<SwitchboardErrorEventArgs>? Error;

    /// <summary>Raised for a message the server sent to this client (not through a channel).</summary>
    public event EventHandler<MessageEventArgs>? Message;

    /// <summary>The connection state.</summary>
    public ClientState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>The connection id the server assigned at the last connect; empty before.</summary>
    public string ClientId
    {
        get
        {
            lock (_gate)
            {
                return _clientId;
            }
        }
    }

    internal TimeProvider Time => _time;

    internal SwitchboardClientOptions Options => _options;

    internal Lock Gate => _gate;

    internal CancellationToken DisposingToken => _disposing.Token;

    /// <summary>
    /// Connects, and keeps reconnecting after connection losses, until <see cref="DisconnectAsync"/>
    /// or a terminal disconnect. Completes once connected.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; the client keeps connecting in the background.</param>
    /// <exception cref="SwitchboardException">The server refused the connection for good, or <see cref="DisconnectAsync"/> was called meanwhile.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        Task<Transport> connected;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state == ClientState.Connected)
            {
                return;
            }
            connected = (_connectedWaiters ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            if (_run is null)
            {
                var run = new CancellationTokenSource();
                _run = run;
                _state = ClientState.Connecting;
                Raise(new ConnectingEventArgs(DisconnectCodes.ConnectCalled, "connect called"));
                _runTask = Task.Run(() => RunAsync(run), CancellationToken.None);
            }
        }
        await connected.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Disconnects (with a normal close frame) and stops reconnecting. Subscriptions keep their
    /// wish to be subscribed and resubscribe on the next <see cref="ConnectAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the connection to close.</param>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        CancellationTokenSource? run;
        Task runTask;
        lock (_gate)
        {
            run = _run;
            runTask = _runTask;
            if (run is null)
            {
                return;
            }
            ToDisconnectedLocked(DisconnectCodes.DisconnectCalled, "disconnect called");
        }
        await run.CancelAsync().ConfigureAwait(false);
        await runTask.WaitAsync(cancellationToken).ConfigureAwait(false);
        run.Dispose();
    }

    /// <summary>Disconnects, ends every <see cref="Subscription.ReadAllAsync"/> and stops raising events.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
        }
        await DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
        lock (_gate)
        {
            _disposed = true;
            foreach (var sub in _subs.Values)
            {
                sub.CloseLocked();
            }
        }
        await _disposing.CancelAsync().ConfigureAwait(false);
        _events.Complete();
    }

    /// <summary>Creates a subscription to a channel; it subscribes on <see cref="Subscription.SubscribeAsync"/>.</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <exception cref="InvalidOperationException">This client already has a subscription to the channel.</exception>
    public Subscription NewSubscription(string channel, SubscriptionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_subs.ContainsKey(channel))
            {
                throw new InvalidOperationException($"There is already a subscription to {channel}.");
            }
            var sub = new Subscription(this, channel, options ?? new SubscriptionOptions());
            _subs.Add(channel, sub);
            return sub;
        }
    }

    /// <summary>The subscription to a channel, or null.</summary>
    /// <param name="channel">The channel.</param>
    /// <returns>The subscription created by <see cref="NewSubscription"/>, if it was not removed.</returns>
    public Subscription? GetSubscription(string channel)
    {
        lock (_gate)
        {
            return _subs.GetValueOrDefault(channel);
        }
    }

    /// <summary>Unsubscribes and forgets a subscription, so <see cref="NewSubscription"/> may create another for its channel.</summary>
    /// <param name="subscription">The subscription.</param>
    /// <param name="cancellationToken">Stops waiting for the server's answer.</param>
    public async Task RemoveSubscriptionAsync(Subscription subscription, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        await subscription.UnsubscribeAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_subs.TryGetValue(subscription.Channel, out var current) && current == subscription)
            {
                _subs.Remove(subscription.Channel);
                subscription.CloseLocked();
            }
        }
    }

    private async Task RunAsync(CancellationTokenSource run)
    {
        var stop = run.Token;
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            Transport? transport = null;
            (int Code, string Reason, bool Reconnect) closed;
            try
            {
                var token = await ConnectionTokenAsync(stop).ConfigureAwait(false);
                if (token is { Length: 0 })
                {
                    closed = (DisconnectCodes.Unauthorized, "unauthorized", false);
                }
                else
                {
                    using (var timeout = new CancellationTokenSource(_options.Timeout, _time))
                    using (var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token))
                    {
                        transport = await Transport.OpenAsync(_uri, this, linked.Token).ConfigureAwait(false);
                        var command = new Command
                        {
                            Id = NextId(),
                            Connect = new ConnectRequest { Token = token, Data = _options.Data, Name = _options.Name, Version = _options.Version },
                        };
                        var opened = transport;
                        var handshake = new Handshake();
                        Reply reply;
                        try
                        {
                            reply = await transport.RequestAsync(command, r => OnConnectReply(run, opened, handshake, r), linked.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!stop.IsCancellationRequested && AcceptedElseAbandon(handshake))
                        {
                            // The timeout fired after the reply was handled: the client is already
                            // connected (and ConnectAsync may have returned). Tearing the connection
                            // down as a "connect timeout" here killed a healthy connection — with a
                            // fake clock, whenever it was advanced by Timeout right after connecting.
                            reply = handshake.Reply!;
                        }
                        if (reply.Error is { } error)
                        {
                            throw new SwitchboardException(error.Code, error.Message ?? "", error.Temporary);
                        }
                    }
                    attempt = 0;
                    closed = await transport.Closed.WaitAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (SwitchboardException e) when (e.Code >= 100)
            {
                // The server refused the connect command.
                RaiseError("connect", e);
                if (e.Code == ErrorCodes.TokenExpired && _options.GetToken is null)
                {
                    // No way to get a fresh token: stop. (Forgetting the expired one, as below,
                    // made the next attempt connect anonymously, as somebody else.)
                    closed = ((int)e.Code, e.Message, false);
                }
                else if (e.Code == ErrorCodes.TokenExpired)
                {
                    lock (_gate)
                    {
                        _token = null;
                    }
                    // A fresh token should work at once: no backoff for the first retry.
                    closed = ((int)e.Code, e.Message, true);
                }
                else
                {
                    closed = ((int)e.Code, e.Message, e.Temporary);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or SwitchboardException or IOException or HttpRequestException)
            {
                RaiseError("transport", e);
                // A server that closes before replying to connect (e.g. 3500 for a bad token) has the last word.
                closed = transport is { Closed.IsCompletedSuccessfully: true }
                    ? await transport.Closed.ConfigureAwait(false)
                    : (DisconnectCodes.TransportClosed, e is OperationCanceledException ? "connect timeout" : "transport closed", true);
            }
            catch (Exception e)
            {
                // The token provider failed: try again later.
                RaiseError("token", e);
                closed = (DisconnectCodes.TransportClosed, "token provider failed", true);
            }
            finally
            {
                if (transport is not null)
                {
                    if (stop.IsCancellationRequested)
                    {
                        await transport.CloseAsync(_options.Timeout, _time).ConfigureAwait(false);
                    }
                    else
                    {
                        await transport.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
            if (stop.IsCancellationRequested)
            {
                break;
            }
            lock (_gate)
            {
                if (_run != run)
                {
                    break;
                }
                if (!closed.Reconnect)
                {
                    ToDisconnectedLocked(closed.Code, closed.Reason);
                    break;
                }
                ClearConnectedStateLocked(closed.Code, closed.Reason);
                _state = ClientState.Connecting;
                Raise(new ConnectingEventArgs(closed.Code, closed.Reason));
            }
            var delay = closed.Code == (int)ErrorCodes.TokenExpired && attempt == 0
                ? TimeSpan.Zero
                : Backoff.Delay(attempt, _options.MinReconnectDelay, _options.MaxReconnectDelay);
            attempt++;
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<string?> ConnectionTokenAsync(CancellationToken cancellationToken)
    {
        string? token;
        lock (_gate)
        {
            token = _token;
        }
        if (token is null && _options.GetToken is { } getToken)
        {
            token = await getToken(cancellationToken).ConfigureAwait(false) ?? "";
            lock (_gate)
            {
                _token = token;
            }
        }
        return token;
    }

    /// <summary>
    /// Decides, against <see cref="OnConnectReply"/>, whether a connect whose wait was cancelled by
    /// the timeout stands: true when the reply was already handled, else false — and the reply
    /// will be ignored should it be handled later.
    /// </summary>
    private bool AcceptedElseAbandon(Handshake handshake)
    {
        lock (_gate)
        {
            handshake.Abandoned = handshake.Reply is null;
            return !handshake.Abandoned;
        }
    }

    private void OnConnectReply(CancellationTokenSource run, Transport transport, Handshake handshake, Reply reply)
    {
        if (reply.Error is not null)
        {
            return;
        }
        var result = reply.Connect ?? new ConnectResult();
        lock (_gate)
        {
            if (_run != run || handshake.Abandoned)
            {
                return;
            }
            handshake.Reply = reply;
            _state = ClientState.Connected;
            _transport = transport;
            _clientId = result.Client ?? "";
            StartHeartbeatLocked(transport, result);
            ScheduleRefreshLocked(run, transport, result.Expires, result.Ttl);
            Raise(new ConnectedEventArgs(_clientId, result.Version ?? "", result.Data ?? default));
            // Through the event queue: ConnectAsync completes only after Connecting and Connected
            // were raised, so a handler added right after `await ConnectAsync()` never gets the
            // events of that connect (it did, racing the event thread).
            var waiters = _connectedWaiters;
            _connectedWaiters = null;
            if (waiters is not null)
            {
                Post(() => waiters.TrySetResult(transport));
            }
            foreach (var sub in _subs.Values)
            {
                sub.OnClientConnectedLocked(transport);
            }
        }
    }

    private void ToDisconnectedLocked(int code, string reason)
    {
        ClearConnectedStateLocked(code, reason);
        _run = null;
        _state = ClientState.Disconnected;
        Raise(new DisconnectedEventArgs(code, reason));
        // Through the event queue, after Disconnected (see OnConnectReply).
        var waiters = _connectedWaiters;
        _connectedWaiters = null;
        if (waiters is not null)
        {
            var error = new SwitchboardException(code == DisconnectCodes.DisconnectCalled ? ErrorCodes.ClientDisconnected : (uint)code, reason);
            Post(() => waiters.TrySetException(error));
        }
    }

    private void ClearConnectedStateLocked(int code, string reason)
    {
        StopTimersLocked();
        _transport = null;
        foreach (var sub in _subs.Values)
        {
            sub.OnClientDisconnectedLocked(code, reason);
        }
    }

    /// <summary>One connect command's outcome, guarded by the client's lock.</summary>
    private sealed class Handshake
    {
        /// <summary>The successful reply, once handled (the client is connected).</summary>
        public Reply? Reply { get; set; }

        /// <summary>The attempt timed out before a reply was handled: a late reply is ignored.</summary>
        public bool Abandoned { get; set; }
    }

    internal uint NextId()
    {
        var id = Interlocked.Increment(ref _nextId);
        return id == 0 ? Interlocked.Increment(ref _nextId) : id;
    }

    internal void Post(Action raise) => _events.Post(raise);

    internal void RaiseError(string type, Exception exception) => Raise(new SwitchboardErrorEventArgs(type, exception));

    // Handlers are read when the event is raised, not when it is posted.
    private void Raise(EventArgs args) => _events.Post(() =>
    {
        switch (args)
        {
            case ConnectingEventArgs a:
                Connecting?.Invoke(this, a);
                break;
            case ConnectedEventArgs a:
                Connected?.Invoke(this, a);
                break;
            case DisconnectedEventArgs a:
                Disconnected?.Invoke(this, a);
                break;
            case MessageEventArgs a:
                Message?.Invoke(this, a);
                break;
            case SwitchboardErrorEventArgs a:
                Error?.Invoke(this, a);
                break;
        }
    });
}
