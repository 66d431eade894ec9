using System.Buffers;
using System.IO.Pipelines;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// A session that speaks over one long HTTP response (HTTP-streaming and SSE, bidirectional with
/// emulation or unidirectional): every frame is written and flushed at once, a disconnect is a
/// disconnect push followed by the end of the response. The session's single writer loop is the
/// only writer, so the response body is never written from two places at a time.
/// </summary>
internal abstract class HttpResponseTransport : ITransport
{
    private static readonly TimeSpan CloseWriteTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpContext _context;
    private readonly PipeWriter _body;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _detached;

    protected HttpResponseTransport(HttpContext context, TimeProvider time, string name, ClientCodec codec, bool unidirectional)
    {
        _context = context;
        _body = context.Response.BodyWriter;
        _time = time;
        Name = name;
        Codec = codec;
        Unidirectional = unidirectional;
    }

    public string Name { get; }

    public ClientCodec Codec { get; }

    public bool Emulation => !Unidirectional;

    public bool Unidirectional { get; }

    /// <summary>Completes when the session has ended the response (after its disconnect push) or aborted it.</summary>
    public Task Ended => _ended.Task;

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var separator = Codec.Separator;
        var span = frame.Span;
        while (true)
        {
            var end = span.IndexOf(separator);
            var message = end < 0 ? span : span[..end];
            WriteMessage(_body, message);
            if (end < 0)
            {
                break;
            }
            span = span[(end + separator.Length)..];
        }
        var flushed = await _body.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flushed.IsCanceled || flushed.IsCompleted)
        {
            throw new IOException("the response is closed");
        }
    }

    /// <summary>Writes one message with the transport's framing (a line, or an SSE event).</summary>
    protected abstract void WriteMessage(IBufferWriter<byte> output, ReadOnlySpan<byte> message);

    public async ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken)
    {
        try
        {
            if (!_detached && !_context.RequestAborted.IsCancellationRequested)
            {
                var push = Codec.EncodePush(new Push
                {
                    Disconnect = new DisconnectPush { Code = disconnect.Code, Reason = disconnect.Reason, Reconnect = disconnect.Reconnect },
                });
                WriteMessage(_body, push);
                // A peer that does not read must not hold the goodbye (and the session) open.
                using var timeout = new CancellationTokenSource(CloseWriteTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
                try
                {
                    await _body.FlushAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _context.Abort();
                }
            }
        }
        finally
        {
            // The endpoint returns now, which ends the response.
            _ended.TrySetResult();
        }
    }

    public void Abort()
    {
        if (!_detached)
        {
            _context.Abort();
        }
        _ended.TrySetResult();
    }

    /// <summary>
    /// The request is over (the server recycles its context): from now on nothing may touch it.
    /// Called by the endpoint once the session's writing has ended.
    /// </summary>
    public void Detach() => _detached = true;
}
