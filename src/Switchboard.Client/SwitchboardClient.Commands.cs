using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Switchboard.Client.Protocol;

namespace Switchboard.Client;

// The request/reply commands. Each waits for the client to be connected (within the timeout),
// sends its command (queued commands share a frame) and returns the result or throws the error.
public sealed partial class SwitchboardClient
{
    /// <summary>Publishes data into a channel.</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="data">The publication's data.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="SwitchboardException">The server refused, the reply timed out, or the client is disconnected.</exception>
    public async Task PublishAsync(string channel, JsonElement data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        await CommandAsync(new Command { Publish = new PublishRequest { Channel = channel, Data = data } }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes a value, serialized with <paramref name="typeInfo"/>, into a channel.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="channel">The channel.</param>
    /// <param name="data">The value.</param>
    /// <param name="typeInfo">Its JSON metadata (from a source-generated context).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="SwitchboardException">The server refused, the reply timed out, or the client is disconnected.</exception>
    public Task PublishAsync<T>(string channel, T data, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
        => PublishAsync(channel, JsonSerializer.SerializeToElement(data, typeInfo), cancellationToken);

    /// <summary>Calls a method on the server.</summary>
    /// <param name="method">The method's name.</param>
    /// <param name="data">The argument.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The result (<see cref="JsonValueKind.Undefined"/> when the method returned none).</returns>
    /// <exception cref="SwitchboardException">The server refused (104 when no handler has the method), the reply timed out, or the client is disconnected.</exception>
    public async Task<JsonElement> RpcAsync(string method, JsonElement data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        var reply = await CommandAsync(new Command { Rpc = new RpcRequest { Method = method, Data = data } }, cancellationToken).ConfigureAwait(false);
        return reply.Rpc?.Data ?? default;
    }

    /// <summary>Calls a method on the server with typed argument and result.</summary>
    /// <typeparam name="TRequest">The argument's type.</typeparam>
    /// <typeparam name="TResponse">The result's type.</typeparam>
    /// <param name="method">The method's name.</param>
    /// <param name="data">The argument.</param>
    /// <param name="requestType">The argument's JSON metadata.</param>
    /// <param name="responseType">The result's JSON metadata.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The result, or default when the method returned none.</returns>
    /// <exception cref="SwitchboardException">The server refused, the reply timed out, or the client is disconnected.</exception>
    public async Task<TResponse?> RpcAsync<TRequest, TResponse>(string method, TRequest data, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken = default)
    {
        var result = await RpcAsync(method, JsonSerializer.SerializeToElement(data, requestType), cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Undefined ? default : result.Deserialize(responseType);
    }

    /// <summary>Reads a channel's history.</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="limit">At most this many publications; 0 asks only for the stream's position; -1 for all the server allows.</param>
    /// <param name="since">Start after this position (null: from the oldest, or the newest when <paramref name="reverse"/>).</param>
    /// <param name="reverse">Newest first.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The publications and the stream's current top.</returns>
    /// <exception cref="SwitchboardException">The server refused (112 when <paramref name="since"/> names another epoch), the reply timed out, or the client is disconnected.</exception>
    public async Task<HistoryResult> HistoryAsync(string channel, int limit = 0, StreamPosition? since = null, bool reverse = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var reply = await CommandAsync(new Command { History = new HistoryRequest { Channel = channel, Limit = limit, Since = since, Reverse = reverse } }, cancellationToken).ConfigureAwait(false);
        return reply.History ?? new HistoryResult();
    }

    /// <summary>Lists the clients subscribed to a channel.</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The subscribed clients by connection id.</returns>
    /// <exception cref="SwitchboardException">The server refused (108 when the channel keeps no presence), the reply timed out, or the client is disconnected.</exception>
    public async Task<PresenceResult> PresenceAsync(string channel, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var reply = await CommandAsync(new Command { Presence = new ChannelRequest { Channel = channel } }, cancellationToken).ConfigureAwait(false);
        return reply.Presence ?? new PresenceResult();
    }

    /// <summary>Counts the clients and users subscribed to a channel.</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The counts.</returns>
    /// <exception cref="SwitchboardException">The server refused, the reply timed out, or the client is disconnected.</exception>
    public async Task<PresenceStats> PresenceStatsAsync(string channel, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var reply = await CommandAsync(new Command { PresenceStats = new ChannelRequest { Channel = channel } }, cancellationToken).ConfigureAwait(false);
        return reply.PresenceStats ?? new PresenceStats();
    }

    /// <summary>Sends an asynchronous message to the server's send handlers; there is no reply.</summary>
    /// <param name="data">The message.</param>
    /// <param name="cancellationToken">Cancels waiting for the connection.</param>
    /// <exception cref="SwitchboardException">The client is disconnected, or did not connect within the timeout.</exception>
    public async Task SendAsync(JsonElement data, CancellationToken cancellationToken = default)
    {
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var transport = await WaitConnectedAsync(linked.Token).ConfigureAwait(false);
            if (!transport.Post(new Command { Send = new SendRequest { Data = data } }))
            {
                throw new SwitchboardException(ErrorCodes.ConnectionClosed, "connection closed", temporary: true);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new SwitchboardException(ErrorCodes.Timeout, "timeout", temporary: true);
        }
    }

    /// <summary>Sends a value, serialized with <paramref name="typeInfo"/>, to the server's send handlers.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="data">The value.</param>
    /// <param name="typeInfo">Its JSON metadata.</param>
    /// <param name="cancellationToken">Cancels waiting for the connection.</param>
    /// <exception cref="SwitchboardException">The client is disconnected, or did not connect within the timeout.</exception>
    public Task SendAsync<T>(T data, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
        => SendAsync(JsonSerializer.SerializeToElement(data, typeInfo), cancellationToken);

    private async Task<Reply> CommandAsync(Command command, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var transport = await WaitConnectedAsync(linked.Token).ConfigureAwait(false);
            command.Id = NextId();
            var reply = await transport.RequestAsync(command, null, linked.Token).ConfigureAwait(false);
            return reply.Error is { } error ? throw new SwitchboardException(error.Code, error.Message ?? "", error.Temporary) : reply;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new SwitchboardException(ErrorCodes.Timeout, "timeout", temporary: true);
        }
    }

    /// <summary>Sends a command on a given connection (not waiting for another), within the timeout.</summary>
    internal async Task<Reply> RequestOnAsync(Transport transport, Command command, Action<Reply>? onReply, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            command.Id = NextId();
            var reply = await transport.RequestAsync(command, onReply, linked.Token).ConfigureAwait(false);
            return reply.Error is { } error ? throw new SwitchboardException(error.Code, error.Message ?? "", error.Temporary) : reply;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new SwitchboardException(ErrorCodes.Timeout, "timeout", temporary: true);
        }
    }

    private async Task<Transport> WaitConnectedAsync(CancellationToken cancellationToken)
    {
        Task<Transport> connected;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state == ClientState.Connected && _transport is { } transport)
            {
                return transport;
            }
            if (_run is null)
            {
                throw new SwitchboardException(ErrorCodes.ClientDisconnected, "client disconnected");
            }
            connected = (_connectedWaiters ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        return await connected.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The connection to send on when connected, else null.</summary>
    internal Transport? ConnectedTransportLocked => _state == ClientState.Connected ? _transport : null;
}
