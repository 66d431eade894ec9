using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using System.Text.Unicode;
using Microsoft.AspNetCore.Connections;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// The server side of RFC 6455 straight on a Kestrel connection's pipes: frames are parsed from the
/// input pipe and written into the output pipe, with no HTTP request, upgrade stream or
/// <see cref="System.Net.WebSockets.WebSocket"/> object in between. An idle connection holds no
/// buffer. Messages of the connection's protocol (text for JSON, binary for Protobuf) are handed
/// to the session whole; messages of the other kind, bad frames and bad UTF-8 get the same close
/// codes as the framework's WebSocket (3501, 1002, 1007, 1009).
/// </summary>
internal sealed class PipeWebSocket(ConnectionContext connection, TimeProvider time, ClientCodec codec) : ITransport
{
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    private const byte OpContinuation = 0x0;
    private const byte OpText = 0x1;
    private const byte OpBinary = 0x2;
    private const byte OpClose = 0x8;
    private const byte OpPing = 0x9;
    private const byte OpPong = 0xA;

    private readonly PipeReader _input = connection.Transport.Input;
    private readonly PipeWriter _output = connection.Transport.Output;
    // 1 while one frame is being written and flushed: data frames come from the session's one
    // writer, control frames (pong, close) from the read loop, so contention is rare and a plain
    // flag on this object costs no extra cache line per delivery (a semaphore cost two monitors).
    private int _writing;
    private bool _closeSent; // written while holding _writing
    private volatile bool _finished;

    private readonly byte _dataOpcode = codec.IsBinary ? OpBinary : OpText;

    public string Name => codec.IsBinary ? "websocket_protobuf" : "websocket";

    public ClientCodec Codec => codec;

    /// <inheritdoc />
    public ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
        {
            return WriteContendedAsync(frame, cancellationToken);
        }
        var release = true;
        try
        {
            if (_closeSent)
            {
                return default;
            }
            WriteFrame(_dataOpcode, frame.Span);
            // A completed flush with IsCompleted set means the peer is gone: the read side ends the session.
            var flush = _output.FlushAsync(cancellationToken);
            if (flush.IsCompletedSuccessfully)
            {
                _ = flush.Result;
                return default;
            }
            release = false;
            return AwaitFlushAndReleaseAsync(flush);
        }
        finally
        {
            if (release)
            {
                Volatile.Write(ref _writing, 0);
            }
        }
    }

    private async ValueTask AwaitFlushAndReleaseAsync(ValueTask<FlushResult> flush)
    {
        try
        {
            await flush.ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    private async ValueTask WriteContendedAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_closeSent)
            {
                WriteFrame(_dataOpcode, frame.Span);
                await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    // Waits for the writing flag. Contention is rare and short (a pong meeting a data frame), and a
    // writer stuck on a slow peer is aborted by the session's write timeout, so a 1 ms poll suffices.
    private async ValueTask EnterWriteAsync(CancellationToken cancellationToken)
    {
        while (Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken)
    {
        var reason = disconnect.Reason;
        if (Encoding.UTF8.GetByteCount(reason) > 123)
        {
            reason = "";
        }
        using var timeout = new CancellationTokenSource(CloseHandshakeTimeout, time);
        try
        {
            if (!await SendCloseAsync((ushort)disconnect.Code, reason, timeout.Token).ConfigureAwait(false))
            {
                return;
            }
        }
        catch (OperationCanceledException)
        {
            Abort();
            return;
        }
        // A peer that never answers the close frame must not hold the connection open.
        _ = EndAfterAsync(CloseHandshakeTimeout);
    }

    /// <inheritdoc />
    public void Abort()
    {
        if (!_finished)
        {
            connection.Abort(new ConnectionAbortedException("aborted by the server"));
        }
    }

    /// <summary>
    /// Reads frames until the peer's close frame or the end of the connection, handing each text
    /// message to the session. Messages that arrive after the session has closed are dropped.
    /// </summary>
    public async Task RunAsync(Client client, int maxMessageBytes)
    {
        var reader = new FrameReader(maxMessageBytes, codec.IsBinary);
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                while (true)
                {
                    var outcome = reader.Read(ref buffer);
                    if (outcome == ReadOutcome.NeedMore)
                    {
                        break;
                    }
                    switch (outcome)
                    {
                        case ReadOutcome.Message:
                            if (client.State != ClientState.Closed)
                            {
                                await client.HandleFrameAsync(reader.Message, CancellationToken.None).ConfigureAwait(false);
                            }
                            reader.ReleaseMessage();
                            break;
                        case ReadOutcome.Ping:
                            await SendControlAsync(OpPong, reader.ControlPayload).ConfigureAwait(false);
                            break;
                        case ReadOutcome.WrongKind:
                            // A binary message on a JSON connection or a text one on a Protobuf
                            // connection: the wrong protocol.
                            client.Disconnect(Protocol.Disconnect.BadRequest);
                            reader.Discarding = true;
                            break;
                        case ReadOutcome.TooBig:
                            // Whole or in fragments, a message may not grow past the limit.
                            client.Disconnect(Protocol.Disconnect.MessageTooBig);
                            reader.Discarding = true;
                            break;
                        case ReadOutcome.Close:
                            _input.AdvanceTo(buffer.Start);
                            // Echo the peer's close (unless ours went first); the connection then ends.
                            await SendCloseAsync(reader.CloseCode ?? 1000, "", CancellationToken.None).ConfigureAwait(false);
                            return;
                        case ReadOutcome.ProtocolError:
                            // The stream cannot be parsed any further: a close frame, then the end.
                            _input.AdvanceTo(buffer.End);
                            await SendCloseAsync(1002, "protocol error", CancellationToken.None).ConfigureAwait(false);
                            return;
                        case ReadOutcome.InvalidUtf8:
                            _input.AdvanceTo(buffer.Start);
                            await SendCloseAsync(1007, "invalid UTF-8", CancellationToken.None).ConfigureAwait(false);
                            return;
                        default: // Pong: nothing to do
                            break;
                    }
                }
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The peer went away.
        }
        finally
        {
            reader.ReleaseMessage();
            _finished = true;
        }
    }

    // Sends a close frame unless one was sent already; true when this call sent it.
    private async Task<bool> SendCloseAsync(ushort code, string reason, CancellationToken cancellationToken)
    {
        await EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_closeSent || _finished)
            {
                return false;
            }
            _closeSent = true;
            Span<byte> payload = stackalloc byte[125];
            BinaryPrimitives.WriteUInt16BigEndian(payload, code);
            var length = 2 + Encoding.UTF8.GetBytes(reason, payload[2..]);
            WriteFrame(OpClose, payload[..length]);
            await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    private async Task SendControlAsync(byte opcode, ReadOnlyMemory<byte> payload)
    {
        await EnterWriteAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_closeSent)
            {
                return;
            }
            WriteFrame(opcode, payload.Span);
            await _output.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    // One unmasked, final frame (servers never mask, RFC 6455 §5.1).
    private void WriteFrame(byte opcode, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[10];
        header[0] = (byte)(0x80 | opcode);
        int headerLength;
        if (payload.Length < 126)
        {
            header[1] = (byte)payload.Length;
            headerLength = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            header[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)payload.Length);
            headerLength = 4;
        }
        else
        {
            header[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(header[2..], (ulong)payload.Length);
            headerLength = 10;
        }
        var span = _output.GetSpan(headerLength + payload.Length);
        if (span.Length >= headerLength + payload.Length)
        {
            header[..headerLength].CopyTo(span);
            payload.CopyTo(span[headerLength..]);
            _output.Advance(headerLength + payload.Length);
            return;
        }
        _output.Write(header[..headerLength]);
        _output.Write(payload);
    }

    // Ends the session without waiting any longer for the peer's close frame: the read loop stops,
    // and Kestrel sends what is still in the output pipe (our close frame) before closing the socket.
    private async Task EndAfterAsync(TimeSpan delay)
    {
        await Task.Delay(delay, time).ConfigureAwait(false);
        if (!_finished)
        {
            _input.CancelPendingRead();
        }
    }

    /// <summary>What one step of the frame reader produced.</summary>
    private enum ReadOutcome
    {
        NeedMore,
        Message,
        Ping,
        Pong,
        Close,
        WrongKind,
        TooBig,
        ProtocolError,
        InvalidUtf8,
    }

    /// <summary>
    /// Incremental frame parser: a data frame's payload is unmasked into the message buffer as it
    /// arrives, so a frame never has to be whole in the pipe; control frames (at most 125 bytes)
    /// are read whole. Fragmented messages are joined.
    /// </summary>
    private sealed class FrameReader(int maxMessageBytes, bool binary)
    {
        private const int InitialBuffer = 4096;
        private uint _mask; // the frame's masking key, its first byte lowest
        private byte[]? _message;
        private int _messageLength;
        private bool _inMessage;
        private bool _messageBinary;
        private long _frameRemaining; // payload bytes of the current data frame still to read
        private bool _inFrame;
        private bool _frameFinal;
        private int _maskOffset;
        private byte[]? _control; // allocated on the first control frame
        private int _controlLength;

        public bool Discarding { get; set; }

        public ReadOnlyMemory<byte> Message => _message.AsMemory(0, _messageLength);

        public ReadOnlyMemory<byte> ControlPayload => _control.AsMemory(0, _controlLength);

        public ushort? CloseCode { get; private set; }

        public void ReleaseMessage()
        {
            _messageLength = 0;
            if (_message is not null)
            {
                ArrayPool<byte>.Shared.Return(_message);
                _message = null;
            }
        }

        public ReadOutcome Read(ref ReadOnlySequence<byte> buffer)
        {
            if (_inFrame)
            {
                return ReadPayload(ref buffer);
            }
            if (buffer.Length < 2)
            {
                return ReadOutcome.NeedMore;
            }
            Span<byte> header = stackalloc byte[14];
            var available = (int)Math.Min(buffer.Length, 14);
            buffer.Slice(0, available).CopyTo(header);
            var b0 = header[0];
            var b1 = header[1];
            var final = (b0 & 0x80) != 0;
            var opcode = (byte)(b0 & 0x0F);
            if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0)
            {
                return ReadOutcome.ProtocolError; // reserved bits without an extension, or an unmasked client frame
            }
            var headerLength = 2;
            long length = b1 & 0x7F;
            if (length == 126)
            {
                headerLength = 4;
            }
            else if (length == 127)
            {
                headerLength = 10;
            }
            if (available < headerLength + 4)
            {
                return ReadOutcome.NeedMore;
            }
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
            }
            else if (length == 127)
            {
                var wide = BinaryPrimitives.ReadUInt64BigEndian(header[2..]);
                if (wide > long.MaxValue)
                {
                    return ReadOutcome.ProtocolError;
                }
                length = (long)wide;
            }
            var isControl = (opcode & 0x8) != 0;
            if (isControl)
            {
                if (!final || length > 125 || opcode is not (OpClose or OpPing or OpPong))
                {
                    return ReadOutcome.ProtocolError;
                }
                if (buffer.Length < headerLength + 4 + length)
                {
                    return ReadOutcome.NeedMore;
                }
                _mask = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(headerLength, 4));
                _control ??= new byte[125];
                _controlLength = (int)length;
                buffer.Slice(headerLength + 4, length).CopyTo(_control);
                Unmask(_control.AsSpan(0, _controlLength), 0);
                buffer = buffer.Slice(headerLength + 4 + length);
                return opcode switch
                {
                    OpPing => ReadOutcome.Ping,
                    OpPong => ReadOutcome.Pong,
                    _ => ParseClose(),
                };
            }
            var starts = opcode is OpText or OpBinary;
            if (starts == _inMessage || (!starts && opcode != OpContinuation))
            {
                return ReadOutcome.ProtocolError; // a new message inside one, a continuation of none, or an unknown opcode
            }
            if (!Discarding && _messageLength + length > maxMessageBytes)
            {
                return ReadOutcome.TooBig; // read again (discarding) once the session has been told
            }
            if (starts)
            {
                _inMessage = true;
                _messageBinary = opcode == OpBinary;
            }
            _mask = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(headerLength, 4));
            buffer = buffer.Slice(headerLength + 4);
            _inFrame = true;
            _frameFinal = final;
            _frameRemaining = length;
            _maskOffset = 0;
            return ReadPayload(ref buffer);
        }

        private ReadOutcome ParseClose()
        {
            if (_controlLength == 1)
            {
                return ReadOutcome.ProtocolError;
            }
            if (_controlLength >= 2)
            {
                CloseCode = BinaryPrimitives.ReadUInt16BigEndian(_control);
                if (!Utf8.IsValid(_control!.AsSpan(2, _controlLength - 2)))
                {
                    return ReadOutcome.ProtocolError;
                }
            }
            return ReadOutcome.Close;
        }

        private ReadOutcome ReadPayload(ref ReadOnlySequence<byte> buffer)
        {
            var take = (int)Math.Min(_frameRemaining, buffer.Length);
            if (take > 0)
            {
                if (!Discarding)
                {
                    EnsureCapacity(_messageLength + take);
                    var target = _message.AsSpan(_messageLength, take);
                    buffer.Slice(0, take).CopyTo(target);
                    Unmask(target, _maskOffset);
                    _messageLength += take;
                }
                _maskOffset = (_maskOffset + take) & 3;
                _frameRemaining -= take;
                buffer = buffer.Slice(take);
            }
            if (_frameRemaining > 0)
            {
                return ReadOutcome.NeedMore;
            }
            _inFrame = false;
            if (!_frameFinal)
            {
                return buffer.IsEmpty ? ReadOutcome.NeedMore : Read(ref buffer);
            }
            _inMessage = false;
            if (Discarding)
            {
                _messageLength = 0;
                return buffer.IsEmpty ? ReadOutcome.NeedMore : Read(ref buffer);
            }
            if (_messageBinary != binary)
            {
                ReleaseMessage();
                return ReadOutcome.WrongKind;
            }
            if (!binary && _message is not null && !Utf8.IsValid(_message.AsSpan(0, _messageLength)))
            {
                ReleaseMessage();
                return ReadOutcome.InvalidUtf8;
            }
            _message ??= ArrayPool<byte>.Shared.Rent(1);
            return ReadOutcome.Message;
        }

        private void EnsureCapacity(int size)
        {
            if (_message is null)
            {
                _message = ArrayPool<byte>.Shared.Rent(Math.Max(size, InitialBuffer));
                return;
            }
            if (size <= _message.Length)
            {
                return;
            }
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(size, _message.Length * 2));
            _message.AsSpan(0, _messageLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_message);
            _message = larger;
        }

        private void Unmask(Span<byte> data, int offset)
        {
            for (var i = 0; i < data.Length; i++)
            {
                data[i] ^= (byte)(_mask >> (8 * ((offset + i) & 3)));
            }
        }
    }
}
