using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Switchboard.Client.Protocol;

namespace Switchboard.Client;

/// <summary>
/// A client's subscription to one channel. Once <see cref="SubscribeAsync"/> is called it stays
/// subscribed across reconnects (resubscribing, and recovering missed publications where the
/// channel allows it) until <see cref="UnsubscribeAsync"/> or a final refusal. Thread-safe.
/// </summary>
/// <remarks>
/// Publications are delivered in stream order: those a subscribe result recovers come right after
/// <see cref="Subscribed"/> and before any publication that arrived later.
/// </remarks>
public sealed partial class Subscription
{
    // The server's unsubscribe code for an expired subscription token (it resubscribes: >= 2500).
    private const int SubscriptionExpired = 2501;

    private readonly SwitchboardClient _client;
    private readonly SubscriptionOptions _options;
    private readonly List<Channel<Publication>> _readers = [];

    // All below are guarded by the client's lock.
    private SubscriptionState _state;
    private bool _wanted;
    private string? _token;
    private string? _epoch;
    private ulong _offset;
    private bool _recoverable;
    private bool _positioned;
    private int _generation;
    private int _retries;
    private Transport? _transport;
    private TaskCompletionSource? _subscribedWaiters;
    private ITimer? _refreshTimer;

    internal Subscription(SwitchboardClient client, string channel, SubscriptionOptions options)
    {
        _client = client;
        _options = options;
        _token = options.Token;
        Channel = channel;
    }

    /// <summary>The channel.</summary>
    public string Channel { get; }

    /// <summary>The subscription's state.</summary>
    public SubscriptionState State
    {
        get
        {
            lock (_client.Gate)
            {
                return _state;
            }
        }
    }

    /// <summary>The position of the last publication delivered (or of the stream at subscribe time) for a positioned or recoverable subscription; else null.</summary>
    public StreamPosition? Position
    {
        get
        {
            lock (_client.Gate)
            {
                return _epoch is null ? null : new StreamPosition { Epoch = _epoch, Offset = _offset };
            }
        }
    }

    /// <summary>Raised when the subscription starts subscribing or, after an interruption, resubscribing.</summary>
    public event EventHandler<SubscribingEventArgs>? Subscribing;

    /// <summary>Raised when the subscription is subscribed; recovered publications follow it.</summary>
    public event EventHandler<SubscribedEventArgs>? Subscribed;

    /// <summary>Raised when the subscription is unsubscribed and will not resubscribe by itself.</summary>
    public event EventHandler<UnsubscribedEventArgs>? Unsubscribed;

    /// <summary>Raised for each publication, in order.</summary>
    public event EventHandler<PublicationEventArgs>? Publication;

    /// <summary>Raised when a client joins the channel (with <see cref="SubscriptionOptions.JoinLeave"/>).</summary>
    public event EventHandler<PresenceEventArgs>? Join;

    /// <summary>Raised when a client leaves the channel (with <see cref="SubscriptionOptions.JoinLeave"/>).</summary>
    public event EventHandler<PresenceEventArgs>? Leave;

    /// <summary>Raised when something failed that the subscription handles by itself (it retries or unsubscribes).</summary>
    public event EventHandler<SwitchboardErrorEventArgs>? Error;

    /// <summary>
    /// Subscribes, and completes once subscribed. When the client is not connected yet, the
    /// subscription is sent as soon as it is.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; the subscription keeps trying in the background.</param>
    /// <exception cref="SwitchboardException">The server refused for good (e.g. 103 permission denied), or <see cref="UnsubscribeAsync"/> was called meanwhile.</exception>
    public async Task SubscribeAsync(CancellationToken cancellationToken = default)
    {
        Task subscribed;
        lock (_client.Gate)
        {
            if (_state == SubscriptionState.Subscribed)
            {
                return;
            }
            subscribed = (_subscribedWaiters ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            if (_state == SubscriptionState.Unsubscribed)
            {
                _wanted = true;
                _retries = 0;
                _state = SubscriptionState.Subscribing;
                Raise(new SubscribingEventArgs(0, "subscribe called"));
                if (_client.ConnectedTransportLocked is { } transport)
                {
                    StartAttemptLocked(transport);
                }
            }
        }
        await subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Unsubscribes: the subscription stops receiving and does not resubscribe.</summary>
    /// <param name="cancellationToken">Stops waiting for the server's answer.</param>
    public async Task UnsubscribeAsync(CancellationToken cancellationToken = default)
    {
        Transport? transport;
        lock (_client.Gate)
        {
            if (_state == SubscriptionState.Unsubscribed)
            {
                return;
            }
            // A subscribe may be in flight on this connection: the server handles commands in order, so an unsubscribe after it undoes it.
            transport = _transport is not null && _transport == _client.ConnectedTransportLocked ? _transport : null;
            ToUnsubscribedLocked(UnsubscribeCodes.UnsubscribeCalled, "unsubscribe called", new SwitchboardException(ErrorCodes.SubscriptionUnsubscribed, "unsubscribed"));
        }
        if (transport is not null)
        {
            try
            {
                await _client.RequestOnAsync(transport, new Command { Unsubscribe = new ChannelRequest { Channel = Channel } }, null, cancellationToken).ConfigureAwait(false);
            }
            catch (SwitchboardException)
            {
                // The server forgets the subscription with the connection anyway.
            }
        }
    }

    /// <summary>
    /// The publications delivered from now on, in order, until the enumeration is cancelled or the
    /// client is disposed. Buffering starts at this call, so call it before <see cref="SubscribeAsync"/>
    /// to also see the publications recovered by the subscribe result — and do enumerate what you ask for.
    /// </summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The publications.</returns>
    public IAsyncEnumerable<Publication> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        var reader = System.Threading.Channels.Channel.CreateUnbounded<Publication>(new UnboundedChannelOptions { SingleReader = true });
        lock (_client.Gate)
        {
            if (_client.DisposingToken.IsCancellationRequested)
            {
                reader.Writer.TryComplete();
            }
            else
            {
                _readers.Add(reader);
            }
        }
        return ReadAsync(reader, cancellationToken);
    }

    private async IAsyncEnumerable<Publication> ReadAsync(Channel<Publication> reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var publication in reader.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return publication;
            }
        }
        finally
        {
            lock (_client.Gate)
            {
                _readers.Remove(reader);
            }
        }
    }

    internal void OnClientConnectedLocked(Transport transport)
    {
        if (_wanted)
        {
            _retries = 0;
            StartAttemptLocked(transport);
        }
    }

    internal void OnClientDisconnectedLocked(int code, string reason)
    {
        _generation++;
        _transport = null;
        StopRefreshLocked();
        if (_state == SubscriptionState.Subscribed)
        {
            _state = SubscriptionState.Subscribing;
            Raise(new SubscribingEventArgs(code, reason));
        }
    }

    /// <summary>The client is disposed or the subscription removed: end the readers and the waiters.</summary>
    internal void CloseLocked()
    {
        if (_state != SubscriptionState.Unsubscribed)
        {
            ToUnsubscribedLocked(UnsubscribeCodes.ClientClosed, "client closed", new SwitchboardException(ErrorCodes.ClientClosed, "client closed"));
        }
        foreach (var reader in _readers)
        {
            reader.Writer.TryComplete();
        }
        _readers.Clear();
    }

    internal void OnPushLocked(Transport transport, Push push)
    {
        if (_transport != transport || _state != SubscriptionState.Subscribed)
        {
            return;
        }
        if (push.Pub is { } publication)
        {
            DeliverLocked(publication);
        }
        else if (push.Join is { Info: { } joined })
        {
            Raise(new PresenceEventArgs(Channel, joined), join: true);
        }
        else if (push.Leave is { Info: { } left })
        {
            Raise(new PresenceEventArgs(Channel, left), join: false);
        }
        else if (push.Unsubscribe is { } unsubscribe)
        {
            var code = (int)unsubscribe.Code;
            var reason = unsubscribe.Reason ?? "";
            if (UnsubscribeCodes.ShouldResubscribe(code))
            {
                StopRefreshLocked();
                if (code == SubscriptionExpired && _options.GetToken is not null)
                {
                    // The server ended the subscription because its token expired: resubscribe with
                    // a fresh one (it resubscribed with the expired one, got 109, an Error event, and
                    // only then asked GetToken).
                    _token = null;
                }
                _state = SubscriptionState.Subscribing;
                Raise(new SubscribingEventArgs(code, reason));
                _retries = 0;
                StartAttemptLocked(transport);
            }
            else
            {
                ToUnsubscribedLocked(code, reason, new SwitchboardException((uint)code, reason));
            }
        }
    }

    private void DeliverLocked(Publication publication)
    {
        if (publication.Offset > 0 && (_recoverable || _positioned))
        {
            if (publication.Offset <= _offset)
            {
                // Already delivered (a recovery and a live delivery overlapped): exactly once.
                return;
            }
            _offset = publication.Offset;
        }
        foreach (var reader in _readers)
        {
            reader.Writer.TryWrite(publication);
        }
        Raise(new PublicationEventArgs(Channel, publication));
    }

    private void ToUnsubscribedLocked(int code, string reason, SwitchboardException waiterError)
    {
        _wanted = false;
        _generation++;
        _transport = null;
        StopRefreshLocked();
        _state = SubscriptionState.Unsubscribed;
        Raise(new UnsubscribedEventArgs(code, reason));
        // Through the event queue, after Unsubscribed (see OnSubscribeReply).
        var waiters = _subscribedWaiters;
        _subscribedWaiters = null;
        if (waiters is not null)
        {
            _client.Post(() => waiters.TrySetException(waiterError));
        }
    }

    private void StopRefreshLocked()
    {
        _refreshTimer?.Dispose();
        _refreshTimer = null;
    }

    private void Raise(EventArgs args, bool join = false) => _client.Post(() =>
    {
        switch (args)
        {
            case SubscribingEventArgs a:
                Subscribing?.Invoke(this, a);
                break;
            case SubscribedEventArgs a:
                Subscribed?.Invoke(this, a);
                break;
            case UnsubscribedEventArgs a:
                Unsubscribed?.Invoke(this, a);
                break;
            case PublicationEventArgs a:
                Publication?.Invoke(this, a);
                break;
            case PresenceEventArgs a when join:
                Join?.Invoke(this, a);
                break;
            case PresenceEventArgs a:
                Leave?.Invoke(this, a);
                break;
            case SwitchboardErrorEventArgs a:
                Error?.Invoke(this, a);
                break;
        }
    });
}
