using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Maps the HTTP client transports that hold one response open for the whole session:
/// <c>/connection/http_stream</c> and <c>/connection/sse</c> (bidirectional: later commands
/// arrive through <c>/emulation</c>) and <c>/connection/uni_http_stream</c> and
/// <c>/connection/uni_sse</c> (unidirectional: the client only receives).
/// </summary>
internal static class StreamingEndpoints
{
    /// <summary>The query parameter carrying the connect command (SSE, where a browser cannot POST).</summary>
    public const string ConnectParameter = "cf_connect";

    public static void MapStreamingTransports(this WebApplication app)
    {
        app.Map("/connection/http_stream", (HttpContext c, Node n, TimeProvider t, IOptions<SwitchboardOptions> o, OriginList origins)
            => HandleAsync(c, n, t, o.Value.Client.MaxMessageBytes, origins, Kind.HttpStream)).ExcludeFromDescription();
        app.Map("/connection/sse", (HttpContext c, Node n, TimeProvider t, IOptions<SwitchboardOptions> o, OriginList origins)
            => HandleAsync(c, n, t, o.Value.Client.MaxMessageBytes, origins, Kind.Sse)).ExcludeFromDescription();
        app.Map("/connection/uni_http_stream", (HttpContext c, Node n, TimeProvider t, IOptions<SwitchboardOptions> o, OriginList origins)
            => HandleAsync(c, n, t, o.Value.Client.MaxMessageBytes, origins, Kind.UniHttpStream)).ExcludeFromDescription();
        app.Map("/connection/uni_sse", (HttpContext c, Node n, TimeProvider t, IOptions<SwitchboardOptions> o, OriginList origins)
            => HandleAsync(c, n, t, o.Value.Client.MaxMessageBytes, origins, Kind.UniSse)).ExcludeFromDescription();
    }

    private enum Kind
    {
        HttpStream,
        Sse,
        UniHttpStream,
        UniSse,
    }

    private static async Task HandleAsync(HttpContext context, Node node, TimeProvider time, int maxMessageBytes, OriginList origins, Kind kind)
    {
        var sse = kind is Kind.Sse or Kind.UniSse;
        var unidirectional = kind is Kind.UniHttpStream or Kind.UniSse;
        if (!CrossOrigin.Admit(context, origins, sse ? "GET, POST" : "POST"))
        {
            if (context.Response.StatusCode == StatusCodes.Status403Forbidden)
            {
                node.Metrics.Refused("origin");
            }
            return;
        }
        if (context.RefuseWhenUnavailable(node))
        {
            return; // draining or at the node's connection cap: try another node (or later)
        }
        if (context.Request.ContentType is { } type && type.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            await RefuseAsync(context, StatusCodes.Status415UnsupportedMediaType, "only the JSON protocol is served here").ConfigureAwait(false);
            return;
        }

        // The connect command (or, unidirectional, the connect request): the body of a POST, the
        // cf_connect parameter of a GET.
        byte[] connect;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            var parameter = context.Request.Query[ConnectParameter];
            if (parameter.Count != 1 || string.IsNullOrEmpty(parameter[0]))
            {
                await RefuseAsync(context, StatusCodes.Status400BadRequest, $"expected one {ConnectParameter} parameter").ConfigureAwait(false);
                return;
            }
            if (Encoding.UTF8.GetByteCount(parameter[0]!) > maxMessageBytes)
            {
                await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "connect command too large").ConfigureAwait(false);
                return;
            }
            connect = Encoding.UTF8.GetBytes(parameter[0]!);
        }
        else
        {
            var body = await ReadBodyAsync(context.Request, maxMessageBytes, context.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "request body too large").ConfigureAwait(false);
                return;
            }
            if (body.Length == 0)
            {
                await RefuseAsync(context, StatusCodes.Status400BadRequest, "expected the connect command as the body").ConfigureAwait(false);
                return;
            }
            connect = body;
        }

        ConnectRequest? request = null;
        if (unidirectional)
        {
            try
            {
                request = JsonSerializer.Deserialize(connect, ProtocolJsonContext.Default.ConnectRequest);
            }
            catch (JsonException)
            {
                // Nothing opened yet: a malformed connect request is an HTTP error, not a session.
            }
            if (request is null)
            {
                await RefuseAsync(context, StatusCodes.Status400BadRequest, "expected a JSON connect request").ConfigureAwait(false);
                return;
            }
        }

        HttpResponseTransport transport = sse
            ? new SseTransport(context, time, unidirectional)
            : new HttpStreamTransport(context, time, unidirectional);
        await ServeAsync(context, node, transport, connect, request).ConfigureAwait(false);
    }

    private static async Task ServeAsync(HttpContext context, Node node, HttpResponseTransport transport, byte[] connect, ConnectRequest? request)
    {
        var response = context.Response;
        // Every frame goes out as it is written: no response buffering here, nor in a proxy.
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = transport is SseTransport ? "text/event-stream" : "application/json";
        response.Headers.CacheControl = "private, no-cache, no-store, must-revalidate, max-age=0";
        response.Headers.Pragma = "no-cache";
        response.Headers.Expires = "0";
        response.Headers["X-Accel-Buffering"] = "no";
        var ct = context.RequestAborted;
        Client? client = null;
        try
        {
            // The headers go now: the client counts the transport as open (EventSource's onopen)
            // before the connect reply.
            await response.StartAsync(ct).ConfigureAwait(false);
            await response.BodyWriter.FlushAsync(ct).ConfigureAwait(false);
            client = node.CreateClient(transport);
            if (request is not null)
            {
                await client.ConnectUnidirectionalAsync(request, ct).ConfigureAwait(false);
            }
            else
            {
                await client.HandleFrameInOrderAsync(connect, ct).ConfigureAwait(false);
            }
            // The response stays open until the session ends it or the peer goes away.
            await transport.Ended.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionAbortedException or IOException)
        {
            // The peer went away.
        }
        finally
        {
            if (client is not null)
            {
                await client.OnTransportClosedAsync().ConfigureAwait(false);
                await client.Writer.ConfigureAwait(false);
            }
            transport.Detach();
        }
    }

    /// <summary>Reads a request body of at most <paramref name="max"/> bytes; null when it is larger.</summary>
    internal static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int max, CancellationToken ct)
    {
        if (request.ContentLength > max)
        {
            return null;
        }
        var reader = request.BodyReader;
        var body = new ArrayBufferWriter<byte>();
        while (true)
        {
            var read = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = read.Buffer;
            if (body.WrittenCount + buffer.Length > max)
            {
                reader.AdvanceTo(buffer.End);
                return null;
            }
            foreach (var segment in buffer)
            {
                body.Write(segment.Span);
            }
            reader.AdvanceTo(buffer.End);
            if (read.IsCompleted)
            {
                return body.WrittenSpan.ToArray();
            }
        }
    }

    internal static async Task RefuseAsync(HttpContext context, int status, string reason)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(reason, context.RequestAborted).ConfigureAwait(false);
    }
}
